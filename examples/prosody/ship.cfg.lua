-- satrelay recipe for Prosody 0.12 (Debian) at the ship (a.example): send the
-- S2S traffic for the shore's domains (b.example and below) to the ship relay,
-- with no DNS server. Goes with examples/ship.yaml and prosody/ship.hosts.
--
-- Install (docs/operator-guide.md §8):
--   cp ship.cfg.lua /etc/prosody/conf.d/satrelay.cfg.lua
--   cp ship.hosts   /etc/prosody/satrelay.hosts     (the relay's address)
--   systemctl restart prosody                      (a reload does not reset the resolver)
-- A file in conf.d is read as the global section, whatever comes before its Include.
--
-- Why: Prosody resolves through libunbound (net/unbound.lua), which does not read
-- /etc/hosts (Debian's Prosody sets hoststxt = false). This gives it a hosts file of
-- its own, and makes b.example a static zone: its SRV lookups get "no such name" at
-- once instead of waiting (20 s) for a DNS server the ship does not have. With no SRV
-- record Prosody connects to the address of b.example on port 5269, so the relay's
-- local.listen is that address, port 5269. Other names still go to /etc/resolv.conf.
unbound = {
	hoststxt = "/etc/prosody/satrelay.hosts";
	-- One zone per option key: for remote domains with no common parent on a site
	-- with no DNS at all, use ". static" (every name not in the hosts file: no such name).
	options = { ["local-zone:"] = "b.example. static" };
}

-- The relay authenticates as b.example by dialback (XEP-0220) with a self-signed
-- certificate. Debian's prosody.cfg.lua sets s2s_secure_auth = true; accept
-- dialback for the relayed domains only (or give the relay a trusted certificate).
s2s_insecure_domains = { "b.example", "muc.b.example" }
