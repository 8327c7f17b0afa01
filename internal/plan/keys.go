package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Dedupe keys identify a work item across runs and versions, so the same work
// never becomes two tickets. A key is a kind prefix and the first 16 hex
// digits (64 bits) of SHA-256 over a canonical, versioned string:
//
//	host:     "v1|host|<aid>|<remediation id>"      → "wi-h-…"
//	fleet:    "v1|fleet|<remediation id>"           → "wi-f-…"
//	mitigate: "v1|mitigate|<aid>|<CVE>"             → "wi-m-…"
//
// with aid and remediation id lower-cased and the CVE upper-cased, all
// trimmed. Changing any of this re-tickets every open item: the golden key
// test exists to make that a deliberate decision.
const keyVersion = "v1"

// HostKey is the dedupe key of a host item: one remediation on one host.
func HostKey(aid, remediationID string) string {
	return key("wi-h-", keyVersion+"|host|"+normLower(aid)+"|"+normLower(remediationID))
}

// FleetKey is the dedupe key of a fleet item: one remediation on many hosts.
func FleetKey(remediationID string) string {
	return key("wi-f-", keyVersion+"|fleet|"+normLower(remediationID))
}

// MitigateKey is the dedupe key of a mitigation item: a CVE without a
// remediation on one host.
func MitigateKey(aid, cve string) string {
	return key("wi-m-", keyVersion+"|mitigate|"+normLower(aid)+"|"+normUpper(cve))
}

func key(prefix, canonical string) string {
	sum := sha256.Sum256([]byte(canonical))
	var b [5 + 16]byte
	copy(b[:], prefix)
	hex.Encode(b[5:], sum[:8])
	return string(b[:])
}

// normLower trims and lower-cases, without allocating when s already is.
func normLower(s string) string {
	s = strings.TrimSpace(s)
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' || c >= 0x80 {
			return strings.ToLower(s)
		}
	}
	return s
}

// normUpper trims and upper-cases, without allocating when s already is.
func normUpper(s string) string {
	s = strings.TrimSpace(s)
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'a' && c <= 'z' || c >= 0x80 {
			return strings.ToUpper(s)
		}
	}
	return s
}
