-- list_rooms.lua: wrk script for GET /room/, as a user or anonymously.
--
-- usage: wrk ... -s bench/list_rooms.lua "http://HOST:PORT/room/" -- [TOKEN]
--
-- With a session token the list carries the user's rooms, read markers and
-- unread counts; without one it is the public list alone. No response()
-- hook, as in get_messages.lua.

function init(args)
   wrk.method = "GET"
   wrk.headers["Accept"] = "application/json"
   if args[1] then
      wrk.headers["Cookie"] = "authKey=" .. args[1]
   end
end
