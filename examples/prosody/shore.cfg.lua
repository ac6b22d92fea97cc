-- satrelay recipe for Prosody 0.12 (Debian) at shore (b.example): send the
-- S2S traffic for the ship's domains (a.example and below) to the shore relay,
-- with no DNS server. Goes with examples/shore.yaml and prosody/shore.hosts.
--
-- Install (docs/operator-guide.md §8):
--   cp shore.cfg.lua /etc/prosody/conf.d/satrelay.cfg.lua
--   cp shore.hosts  /etc/prosody/satrelay.hosts     (the relay's address)
--   systemctl restart prosody                      (a reload does not reset the resolver)
-- A file in conf.d is read as the global section, whatever comes before its Include.
--
-- Why: Prosody resolves through libunbound (net/unbound.lua), which does not read
-- /etc/hosts (Debian's Prosody sets hoststxt = false). This gives it a hosts file of
-- its own, and makes a.example a static zone: its SRV lookups get "no such name" at
-- once instead of waiting (20 s) for a DNS server the site does not have. With no SRV
-- record Prosody connects to the address of a.example on port 5269, so the relay's
-- local.listen is that address, port 5269. Other names still go to /etc/resolv.conf.
unbound = {
	hoststxt = "/etc/prosody/satrelay.hosts";
	-- One zone per option key: for remote domains with no common parent on a site
	-- with no DNS at all, use ". static" (every name not in the hosts file: no such name).
	options = { ["local-zone:"] = "a.example. static" };
}

-- The relay authenticates as a.example by dialback (XEP-0220) with a self-signed
-- certificate. Debian's prosody.cfg.lua sets s2s_secure_auth = true; accept
-- dialback for the relayed domains only (or give the relay a trusted certificate).
s2s_insecure_domains = { "a.example", "muc.a.example" }
