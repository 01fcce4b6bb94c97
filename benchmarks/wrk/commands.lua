-- wrk script: POST a command per request, cycling through the lines of a file "token<TAB>path<TAB>json body".
-- Each thread starts at its own offset so that concurrent requests rarely touch the same hazard.
-- done() prints one JSON line: requests, non-2xx responses, duration and latency percentiles (microseconds).

local threads = {}
local counter = 0
local lines = {}

function setup(thread)
   thread:set("id", #threads)
   table.insert(threads, thread)
end

function init(args)
   for line in io.lines(args[1]) do
      local token, path, body = line:match("([^\t]*)\t([^\t]*)\t(.*)")
      table.insert(lines, {token = token, path = path, body = body})
   end
   counter = id * math.floor(#lines / 16)
   non2xx = 0
end

function request()
   counter = counter + 1
   local line = lines[(counter % #lines) + 1]
   return wrk.format("POST", line.path, {
      ["Authorization"] = "Token " .. line.token,
      ["Content-Type"] = "application/json",
   }, line.body)
end

function response(status, headers, body)
   if status < 200 or status > 299 then
      non2xx = non2xx + 1
   end
end

function done(summary, latency, requests)
   local bad = 0
   for _, thread in ipairs(threads) do
      bad = bad + thread:get("non2xx")
   end
   io.write(string.format(
      '{"requests": %d, "non2xx": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, ' ..
      '"max_us": %d, "socket_errors": %d}\n',
      summary.requests, bad, summary.duration, latency:percentile(50), latency:percentile(90),
      latency:percentile(99), latency.max,
      summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
