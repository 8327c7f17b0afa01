package snapshot

import (
	"strings"
	"unicode"

	"github.com/vulnpilot/vulnpilot/internal/falcon"
	"github.com/vulnpilot/vulnpilot/internal/risk"
)

// genericWords never tie an alert to a product on their own: they appear in
// most alert texts and most product names.
var genericWords = map[string]bool{
	"microsoft": true, "windows": true, "server": true, "apple": true, "google": true, "linux": true,
	"apache": true, "oracle": true, "adobe": true, "mozilla": true, "update": true, "client": true,
	"service": true, "services": true, "edition": true, "system": true, "software": true, "runtime": true,
	"library": true, "framework": true, "desktop": true, "enterprise": true, "professional": true,
	"office": true, "reader": true, "http": true, "core": true, "version": true, "exploit": true,
}

// productTokens are the distinctive words of a product name ("Apache Log4j"
// → log4j; "Google Chrome" → chrome).
func productTokens(product string) []string {
	var out []string
	for _, w := range strings.FieldsFunc(strings.ToLower(product), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	}) {
		if len(w) >= 4 && !genericWords[w] && !isNumber(w) {
			out = append(out, w)
		}
	}
	return out
}

func isNumber(s string) bool {
	for _, r := range s {
		if !unicode.IsDigit(r) {
			return false
		}
	}
	return true
}

// tiedAlerts returns the live alerts on the finding's host that name its CVE
// or involve its product. Alert text is attacker-influenced data: it is only
// searched for the CVE id and product words, never interpreted.
func tiedAlerts(alerts []falcon.Alert, f *falcon.Finding) []risk.AlertFact {
	var out []risk.AlertFact
	cve := strings.ToLower(f.CVE)
	tokens := productTokens(f.App.Product)
	for i := range alerts {
		a := &alerts[i]
		text := strings.ToLower(strings.Join([]string{a.Name, a.DisplayName, a.Description, a.Filename, a.Cmdline}, " "))
		match := ""
		switch {
		case cve != "" && containsWord(text, cve):
			match = "cve"
		default:
			for _, t := range tokens {
				if containsWord(text, t) {
					match = "product"
					break
				}
			}
		}
		if match == "" {
			continue
		}
		name := a.DisplayName
		if name == "" {
			name = a.Name
		}
		out = append(out, risk.AlertFact{ID: a.ID, Name: name, Severity: a.Severity, Created: a.Created, Status: a.Status, Match: match})
	}
	return out
}

// containsWord reports whether w occurs in text not glued to other letters or
// digits ("chrome" in "chrome.exe" yes, in "chromebook" no).
func containsWord(text, w string) bool {
	for off := 0; ; {
		i := strings.Index(text[off:], w)
		if i < 0 {
			return false
		}
		start := off + i
		end := start + len(w)
		if boundary(text, start-1) && boundary(text, end) {
			return true
		}
		off = start + 1
	}
}

func boundary(s string, i int) bool {
	if i < 0 || i >= len(s) {
		return true
	}
	c := s[i]
	return !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9')
}
