-- Test-only Prosody module: static S2S routes for the satrelay interop harness.
-- Config: satrelay_test_routes = { ["b.example"] = { host = "127.0.0.3", port = 5269 } }
-- A listed domain is connected to host:port directly (no SRV/A lookups, no IPv6);
-- the XEP-0368 direct-TLS ("xmpps-server") attempt for it yields no target, so
-- Prosody goes straight to plain TCP + STARTTLS (RFC 6120 §5).
-- Why not unbound local-data: Debian's lua-unbound takes one string per option
-- key, so only one local-data record fits (a table value crashes it).
module:set_global();

local service = require "net.resolvers.service";
local basic = require "net.resolvers.basic";

local routes = module:get_option("satrelay_test_routes", {});
local original_new = service.new;

local empty_mt = { __index = { next = function (self, cb) cb(nil); end } };

service.new = function (hostname, srv_name, conn_type, extra)
	local route = routes[hostname];
	if route then
		if srv_name == "xmpps-server" then
			return setmetatable({ last_error = "direct TLS not routed" }, empty_mt);
		end
		module:log("debug", "static route for %s -> %s:%d", hostname, route.host, route.port);
		return basic.new(route.host, route.port, conn_type, extra);
	end
	return original_new(hostname, srv_name, conn_type, extra);
end

function module.unload()
	service.new = original_new;
end
