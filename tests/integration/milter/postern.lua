-- miltertest(8) script for postern-milter (tests/integration/t_postern_milter_miltertest.sh).
-- The socket comes in the environment as MILTER_SOCKET. Three transactions on
-- one connection: a clean message (accepted; an spf=pass finding from the test
-- filter gives an Authentication-Results, inserted; a forged one deleted), one the test filter rejects (X-Test-Action: reject:
-- the policy's 550 as the SMTP reply), one it tags with an added header and
-- a new sender and recipient (X-Test-Action: tag add=... from=... addrcpt=...);
-- then quarantine (smfi_quarantine), discard, a replaced body and a deleted
-- recipient.

local sock = os.getenv("MILTER_SOCKET")
local conn = mt.connect(sock, 40, 0.25)
if conn == nil then error("cannot connect to " .. sock) end

local function expect(what, want)
	local got = mt.getreply(conn)
	if got ~= want then
		error(what .. ": reply " .. tostring(got) .. ", wanted " .. tostring(want))
	end
	mt.echo("ok - " .. what)
end

local function check(what, cond)
	if not cond then error(what) end
	mt.echo("ok - " .. what)
end

-- send a message whose X-Test-Action is action; returns after EOM
local function message(action, rcpt)
	mt.macro(conn, SMFIC_MAIL, "i", "QID" .. action:len())
	if mt.mailfrom(conn, "<alice@client.test>") ~= nil then error("mailfrom") end
	expect("MAIL " .. action, SMFIR_CONTINUE)
	if mt.rcptto(conn, "<" .. rcpt .. ">") ~= nil then error("rcptto") end
	expect("RCPT " .. action, SMFIR_CONTINUE)
	mt.header(conn, "From", "alice@client.test")
	mt.header(conn, "Subject", "miltertest")
	mt.header(conn, "Authentication-Results", "postern.test; spf=pass smtp.mailfrom=forged.test")
	mt.header(conn, "X-Test-Action", action)
	mt.eoh(conn)
	mt.bodystring(conn, "hello from miltertest\r\n")
	mt.eom(conn)
end

if mt.conninfo(conn, "client.test", "127.0.0.1") ~= nil then error("conninfo") end
expect("connect", SMFIR_CONTINUE)
if mt.helo(conn, "client.test") ~= nil then error("helo") end
expect("helo", SMFIR_CONTINUE)

message("result=spf:pass", "bob@example.test")
expect("clean message: accepted", SMFIR_CONTINUE)
check("clean message: Authentication-Results inserted", mt.eom_check(conn, MT_HDRINSERT, "Authentication-Results"))
check("clean message: the forged one deleted", mt.eom_check(conn, MT_HDRDELETE, "Authentication-Results"))

message("reject", "bob@example.test")
expect("reject: refused with a reply code", SMFIR_REPLYCODE)
-- miltertest matches a reply only given all three parts.
check("reject: the policy's 550 5.7.1", mt.eom_check(conn, MT_SMTPREPLY, "550", "5.7.1", "Message rejected by policy"))

message("tag add=X-Tagged:yes from=new@sender.test addrcpt=added@example.test", "bob@example.test")
expect("tag: accepted", SMFIR_CONTINUE)
check("tag: X-Postern-Action inserted", mt.eom_check(conn, MT_HDRINSERT, "X-Postern-Action"))
-- miltertest offers SMFIP_HDR_LEADSPC and postern-milter takes it (header values
-- exactly as in the message), so what it adds carries its leading space.
check("tag: the filter's header added", mt.eom_check(conn, MT_HDRADD, "X-Tagged", " yes"))
check("tag: recipient added", mt.eom_check(conn, MT_RCPTADD, "<added@example.test>"))

message("quarantine", "bob@example.test")
expect("quarantine: accepted, to be held", SMFIR_CONTINUE)
check("quarantine: the MTA is asked to hold it", mt.eom_check(conn, MT_QUARANTINE))

message("discard", "bob@example.test")
expect("discard: SMFIR_DISCARD", SMFIR_DISCARD)

message("body=replaced delrcpt=bob@example.test", "bob@example.test")
expect("body and recipient edits: accepted", SMFIR_CONTINUE)
check("body replaced", mt.eom_check(conn, MT_BODYCHANGE, "replaced\r\n"))
check("recipient deleted", mt.eom_check(conn, MT_RCPTDELETE, "<bob@example.test>"))

mt.disconnect(conn)
mt.echo("miltertest: done")
