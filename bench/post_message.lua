-- post_message.lua: wrk script for POST /message/ as a logged-in user, and for
-- nchan's publisher (the same body, no session).
--
-- usage: wrk ... -s bench/post_message.lua http://HOST:PORT/message/ -- TOKEN [LIMIT]
--
-- TOKEN is a session token (the authKey of POST /user/ or PUT /user/); it is
-- sent as the authKey cookie; "-" sends no cookie (nchan's /pub). Every
-- request carries the same small JSON body. With LIMIT, each wrk thread stops
-- after LIMIT responses. Without it the script defines no response() hook, so
-- wrk does not have to hand bodies to Lua and the measured run stays as cheap
-- for the client as a plain GET.

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
end
