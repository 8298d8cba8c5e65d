-- login.lua: wrk script for PUT /user/ (log in: an Argon2id verification on
-- chatd's worker threads), the login storm of bench/scenario_login.sh.
--
-- usage: wrk ... -s bench/login.lua http://HOST:PORT/user/ -- EMAIL PASSWORD

function init(args)
   if not args[2] then
      error("login.lua: pass the e-mail address and the password after --")
   end
   wrk.method = "PUT"
   wrk.body = '{"email":"' .. args[1] .. '","password":"' .. args[2] .. '"}'
   wrk.headers["Content-Type"] = "application/json"
end
