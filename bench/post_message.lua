-- post_message.lua: wrk script for POST /message/ as a logged-in user, and for
-- nchan's publisher (the same body, no session).
--
-- usage: wrk ... -s bench/post_message.lua http://HOST:PORT/message/ -- TOKEN [LIMIT [GAP_MS]]
--
-- TOKEN is a session token (the authKey of POST /user/ or PUT /user/); it is
-- sent as the authKey cookie; "-" sends no cookie (nchan's /pub). Every
-- request carries the same small JSON body. With LIMIT (a number; "-" for
-- none), each wrk thread stops after LIMIT responses. Without it the script
-- defines no response() hook, so wrk does not have to hand bodies to Lua and
-- the measured run stays as cheap for the client as a plain GET.
--
-- With GAP_MS, each connection waits on average GAP_MS milliseconds after a
-- response before it sends the next request (wrk's delay() hook; uniformly
-- random between 0 and twice the mean, so that the connections do not send in
-- step): C connections then offer about C * 1000 / (GAP_MS + latency)
-- requests per second, a fixed load instead of as many as the server takes.

local limit

function init(args)
   local token = args[1]
   if not token or token == "" then
      error("post_message.lua: pass the session token (or -) after --")
   end
   wrk.method = "POST"
   wrk.body = '{"text":"Hello from wrk: a benchmark message of ordinary length."}'
   wrk.headers["Content-Type"] = "application/json"
   if token ~= "-" then
      wrk.headers["Cookie"] = "authKey=" .. token
   end
   limit = tonumber(args[2])
   if limit then
      local seen = 0
      -- Defined only when counting, see above.
      response = function(status, headers, body)
         if status ~= 201 then
            error("post_message.lua: POST answered " .. status .. ": " .. body)
         end
         seen = seen + 1
         if seen >= limit then
            wrk.thread:stop()
         end
      end
   end
   local gap = tonumber(args[3])
   if gap then
      if gap <= 0 then
         error("post_message.lua: GAP_MS must be positive")
      end
      -- Each wrk thread has its own Lua state: a table address tells them apart.
      math.randomseed(os.time() + tonumber(tostring({}):match("%x+$"), 16) % 1000003)
      -- Defined only when pacing: wrk runs without delays otherwise.
      delay = function()
         return math.floor(math.random() * 2 * gap + 0.5)
      end
   end
end
