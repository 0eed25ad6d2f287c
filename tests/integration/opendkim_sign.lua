-- opendkim_sign.lua - have the OpenDKIM milter sign a message (miltertest -s).
--
-- OD_PORT: the port the opendkim milter listens on (127.0.0.1);
-- OD_MSG: the message file (CRLF lines). Writes the message with the
-- DKIM-Signature field the milter asked to add in front of it.
local conn = mt.connect("inet:" .. os.getenv("OD_PORT") .. "@127.0.0.1", 40, 0.25)
if conn == nil then error("connect") end
if mt.conninfo(conn, "localhost", "127.0.0.1") ~= nil then error("conninfo") end
mt.macro(conn, SMFIC_MAIL, "i", "t-sign")
if mt.mailfrom(conn, "alice@example.test") ~= nil then error("mailfrom") end
if mt.rcptto(conn, "bob@example.org") ~= nil then error("rcptto") end
local f = io.open(os.getenv("OD_MSG"), "rb")
local msg = f:read("*a")
f:close()
local sep = msg:find("\r\n\r\n", 1, true)
local head, body = msg:sub(1, sep + 1), msg:sub(sep + 4)
-- header fields, continuation lines joined to their field
local fields = {}
for line in head:gmatch("(.-)\r\n") do
	if line:match("^[ \t]") and #fields > 0 then
		fields[#fields] = fields[#fields] .. "\r\n" .. line
	else
		fields[#fields + 1] = line
	end
end
for _, field in ipairs(fields) do
	local name, value = field:match("^([^:]+):[ \t]*(.*)$")
	if mt.header(conn, name, value) ~= nil then error("header " .. name) end
end
if mt.eoh(conn) ~= nil then error("eoh") end
if mt.bodystring(conn, body) ~= nil then error("body") end
if mt.eom(conn) ~= nil then error("eom") end
local sig = mt.getheader(conn, "DKIM-Signature", 0)
if sig == nil then error("the milter added no DKIM-Signature") end
sig = sig:gsub("^%s+", ""):gsub("\r?\n", "\r\n")
io.write("DKIM-Signature: " .. sig .. "\r\n" .. msg)
mt.disconnect(conn)
