-- get_messages.lua: wrk script for GET /message/ pages.
--
-- usage: wrk ... -s bench/get_messages.lua "http://HOST:PORT/message/?after=ID&limit=100"
--
-- Reading the history needs no session. wrk requests the URL it is given
-- (path and query) as it is; the script only adds the Accept header a client
-- would send. It defines no response() hook on purpose: that would make wrk
-- hand every page to Lua and spend on the client the CPU the server (on the
-- same cores) should get.

function init(args)
   wrk.method = "GET"
   wrk.headers["Accept"] = "application/json"
   -- an optional session token: the page is read as that user's (its own
   -- reactions marked), as the web client reads it
   if args[1] then wrk.headers["Cookie"] = "authKey=" .. args[1] end
end
