// Package falconsim is an offline CrowdStrike Falcon tenant served over
// HTTPS: the same paths, parameters and JSON shapes as the real Falcon API
// (gofalcon v0.22.0 is the reference), over a Tenant dataset, with OAuth2,
// per-endpoint scopes, rate-limit headers and injectable faults.
//
// Served endpoints (everything served works; nothing is a stub):
//
//	POST   /oauth2/token                                   client_credentials (form or Basic), member_cid
//	POST   /oauth2/revoke
//	GET    /spotlight/combined/vulnerabilities/v1          filter (required), facet, limit<=5000, after, sort
//	GET    /spotlight/queries/vulnerabilities/v1
//	GET    /spotlight/entities/vulnerabilities/v2          ids<=400
//	GET    /spotlight/entities/remediations/v2
//	GET    /spotlight/combined|queries/evaluation-logic/v1, /spotlight/entities/evaluation-logic/v1
//	GET    /devices/queries/devices/v1                     filter, limit<=5000, offset, sort
//	GET|POST /devices/entities/devices/v2
//	POST   /devices/entities/devices-actions/v2            action_name=contain|lift_containment
//	GET    /devices/entities/online-state/v1
//	GET    /alerts/queries/alerts/v2                       filter, q, limit<=10000, offset, sort
//	POST   /alerts/entities/alerts/v2                      composite_ids
//	GET    /intel/queries/vulnerabilities/v1               filter, q, limit, offset, sort
//	POST   /intel/entities/vulnerabilities/GET/v1
//	POST|DELETE /real-time-response/entities/sessions/v1, GET /real-time-response/queries/sessions/v1,
//	POST   /real-time-response/entities/sessions/GET/v1, /real-time-response/entities/refresh-session/v1
//	POST|GET /real-time-response/entities/command/v1 (read-only), .../active-responder-command/v1, .../admin-command/v1
//	GET|POST /_sim/faults, GET /_sim/stats                  simulator control (not Falcon)
//
// Deliberate differences from Falcon: bad client credentials get 403 with
// Falcon's "Failed to issue access token" text (as Falcon answers), expired
// or unknown bearer tokens 401; a containment change is "_pending" on the
// first device-details read after the action and done on the next;
// host_info.groups and groups filters accept group names as well as ids;
// last_seen_within is not a filter field; RTR output is complete on the
// second status poll and runscript runs only the built-in cloud files
// Disable-SMBv1, Stop-Service and Get-Services.
//
// Performance: New indexes the tenant into a compact snapshot (interned
// strings, per-finding structs referencing host, CVE and remediations by
// index) with the host, CVE and remediation JSON pre-rendered once; pages
// are rendered by an append-based encoder into recycled buffers. Spotlight
// pagination tokens carry the scan position, totals are cached per filter
// and sorted orders per (filter, sort) in a bounded LRU; host actions swap
// in a new snapshot, which drops the caches.
package falconsim
