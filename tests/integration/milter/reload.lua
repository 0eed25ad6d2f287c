-- miltertest(8) script for tests/integration/t_postern_milter_reload.sh: one
-- connection, one message the test filter rejects (X-Test-Action: reject).
-- MILTER_SOCKET is the socket; WANT is "reject" (the enforcing policy's 550)
-- or "accept" (monitor mode). With HOLD set, the script writes HOLD.connected
-- after HELO and waits (up to 30 s) for the file HOLD before MAIL: a
-- connection in flight across a reload.

local sock = os.getenv("MILTER_SOCKET")
local want = os.getenv("WANT")
local hold = os.getenv("HOLD")
local conn = mt.connect(sock, 40, 0.25)
if conn == nil then error("cannot connect to " .. sock) end

local function expect(what, wanted)
	local got = mt.getreply(conn)
	if got ~= wanted then
		error(what .. ": reply " .. tostring(got) .. ", wanted " .. tostring(wanted))
	end
	mt.echo("ok - " .. what)
end

if mt.conninfo(conn, "client.test", "127.0.0.1") ~= nil then error("conninfo") end
expect("connect", SMFIR_CONTINUE)
if mt.helo(conn, "client.test") ~= nil then error("helo") end
expect("helo", SMFIR_CONTINUE)

if hold ~= nil then
	local f = io.open(hold .. ".connected", "w")
	f:close()
	local waited = 0
	while io.open(hold, "r") == nil do
		if waited >= 300 then error("no " .. hold .. " within 30 s") end
		mt.sleep(0.1)
		waited = waited + 1
	end
end

if mt.mailfrom(conn, "<alice@client.test>") ~= nil then error("mailfrom") end
expect("MAIL", SMFIR_CONTINUE)
if mt.rcptto(conn, "<bob@example.test>") ~= nil then error("rcptto") end
expect("RCPT", SMFIR_CONTINUE)
mt.header(conn, "From", "alice@client.test")
mt.header(conn, "Subject", "reload")
mt.header(conn, "X-Test-Action", "reject")
mt.eoh(conn)
mt.bodystring(conn, "hello\r\n")
mt.eom(conn)
if want == "reject" then
	expect("rejected", SMFIR_REPLYCODE)
	if not mt.eom_check(conn, MT_SMTPREPLY, "550", "5.7.1", "Message rejected by policy") then
		error("not the policy's 550 5.7.1")
	end
	mt.echo("ok - the policy's 550 5.7.1")
else
	expect("accepted", SMFIR_CONTINUE)
end
mt.disconnect(conn)
mt.echo("miltertest: done")
