package falcon

import (
	"fmt"
	"io"
	"sync/atomic"
	"time"
)

// pageMeta is what a Falcon list response says about itself.
type pageMeta struct {
	After   string
	Total   int64
	Limit   int
	Offset  int
	TraceID string
	Errors  []apiMessage
	// HasResources is false when the document lacked a resources member,
	// which a well-formed Falcon response always has.
	HasResources bool
}

// apiMessage is one entry of a Falcon response's errors array.
type apiMessage struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// findingsDecoder decodes Spotlight vulnerability pages (combined and
// entities endpoints) straight into Finding. One decoder serves one goroutine;
// its interner makes repeated strings across pages share memory.
type findingsDecoder struct {
	lex lexer
	in  *interner
	bad *atomic.Int64 // unreadable timestamps, shared with Stats
}

func newFindingsDecoder(bad *atomic.Int64) *findingsDecoder {
	in := newInterner()
	return &findingsDecoder{in: in, lex: lexer{in: in}, bad: bad}
}

// DecodeFindingsPage decodes one Spotlight vulnerabilities response body
// (GET /spotlight/combined/vulnerabilities/v1 or the entities endpoint) into
// findings, returning the page's after cursor and total. It is the decoder of
// the streaming hot path, exported so that benchmarks can measure the decode
// floor on fixed bytes. A malformed or truncated body is an error.
func DecodeFindingsPage(r io.Reader) (findings []Finding, after string, total int64, err error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, "", 0, err
	}
	var bad atomic.Int64
	findings, meta, err := newFindingsDecoder(&bad).decode(data, nil)
	if err != nil {
		return nil, "", 0, err
	}
	return findings, meta.After, meta.Total, nil
}

// decode parses data, appending findings to dst[:0].
func (d *findingsDecoder) decode(data []byte, dst []Finding) ([]Finding, pageMeta, error) {
	l := &d.lex
	l.data, l.pos = data, 0
	out := dst[:0]
	var meta pageMeta
	err := l.object(func(key []byte) error {
		switch string(key) {
		case "meta":
			return decodeMeta(l, &meta)
		case "resources":
			meta.HasResources = true
			return l.array(func() error {
				out = append(out, Finding{})
				return d.finding(&out[len(out)-1])
			})
		case "errors":
			return decodeAPIMessages(l, &meta.Errors)
		default:
			return l.skip()
		}
	})
	if err == nil {
		err = l.end()
	}
	l.data = nil // do not pin the page buffer
	if err != nil {
		return nil, pageMeta{}, err
	}
	return out, meta, nil
}

func decodeMeta(l *lexer, m *pageMeta) error {
	return l.object(func(key []byte) error {
		var err error
		switch string(key) {
		case "trace_id":
			m.TraceID, err = l.str()
		case "pagination":
			return l.object(func(key []byte) error {
				var err error
				switch string(key) {
				case "after":
					m.After, err = l.str()
				case "total":
					m.Total, err = l.int()
				case "limit":
					var n int64
					n, err = l.int()
					m.Limit = clampInt(n)
				case "offset":
					// Offsets are numbers on most endpoints and strings on
					// a few (intel); only numbers are used.
					if l.peek() == '"' {
						return l.skip()
					}
					var n int64
					n, err = l.int()
					m.Offset = clampInt(n)
				default:
					return l.skip()
				}
				return err
			})
		default:
			return l.skip()
		}
		return err
	})
}

func decodeAPIMessages(l *lexer, out *[]apiMessage) error {
	return l.array(func() error {
		var m apiMessage
		err := l.object(func(key []byte) error {
			var err error
			switch string(key) {
			case "code":
				var n int64
				if n, err = l.int(); err == nil {
					m.Code = clampInt(n)
				}
			case "message":
				m.Message, err = l.str()
			default:
				return l.skip()
			}
			return err
		})
		if err == nil {
			*out = append(*out, m)
		}
		return err
	})
}

func (d *findingsDecoder) timestamp(dst *timeField) error {
	l := &d.lex
	if l.null() {
		return nil
	}
	b, err := l.rawString()
	if err != nil {
		return err
	}
	dst.set(parseTimeBytes(b, d.bad))
	return nil
}

func (d *findingsDecoder) finding(f *Finding) error {
	l := &d.lex
	var vulnID string
	var appsRemIDs []string
	err := l.object(func(key []byte) error {
		var err error
		switch string(key) {
		case "id":
			f.ID, err = l.str()
		case "aid":
			f.AID, err = l.str()
		case "cid":
			f.CID, err = l.str()
		case "vulnerability_id":
			vulnID, err = l.str()
		case "status":
			f.Status, err = l.str()
		case "confidence":
			f.Confidence, err = l.str()
		case "created_timestamp":
			err = d.timestamp(&timeField{t: &f.Created})
		case "updated_timestamp":
			err = d.timestamp(&timeField{t: &f.Updated})
		case "closed_timestamp":
			err = d.timestamp(&timeField{p: &f.Closed})
		case "app":
			err = d.app(&f.App)
		case "apps":
			err = l.array(func() error {
				var a App
				var ids []string
				var el *EvaluationLogic
				if err := d.extApp(&a, &ids, &el); err != nil {
					return err
				}
				f.Apps = append(f.Apps, a)
				appsRemIDs = appendUnique(appsRemIDs, ids...)
				if el != nil {
					f.EvaluationLogic = append(f.EvaluationLogic, *el)
				}
				return nil
			})
		case "remediation":
			err = d.remediationFacet(f)
		case "suppression_info":
			err = l.object(func(key []byte) error {
				var err error
				switch string(key) {
				case "is_suppressed":
					f.Suppression.Suppressed, err = l.boolean()
				case "reason":
					f.Suppression.Reason, err = l.str()
				default:
					return l.skip()
				}
				return err
			})
		case "host_info":
			err = d.host(&f.Host)
		case "cve":
			err = d.cve(&f.CVEInfo)
		default:
			return l.skip()
		}
		return err
	})
	if err != nil {
		return err
	}
	finishFinding(f, vulnID, appsRemIDs)
	return nil
}

// finishFinding fills the derived fields shared by every decoder.
func finishFinding(f *Finding, vulnID string, appsRemIDs []string) {
	f.CVE = f.CVEInfo.ID
	if f.CVE == "" {
		f.CVE = vulnID
	}
	if len(f.RemediationIDs) == 0 && len(appsRemIDs) > 0 {
		f.RemediationIDs = appsRemIDs
	}
	// The per-app details (sub status, patch date) belong on App too when
	// the finding is about exactly that product.
	for _, a := range f.Apps {
		if a.Product == f.App.Product && (a.ProductVersion == f.App.ProductVersion || f.App.ProductVersion == "") {
			if f.App.SubStatus == "" {
				f.App.SubStatus = a.SubStatus
			}
			if f.App.PatchPublished == "" {
				f.App.PatchPublished = a.PatchPublished
			}
			if f.App.Vendor == "" {
				f.App.Vendor = a.Vendor
			}
			break
		}
	}
	if f.App.Product == "" && len(f.Apps) > 0 {
		f.App = f.Apps[0]
	}
}

func (d *findingsDecoder) app(a *App) error {
	l := &d.lex
	return l.object(func(key []byte) error {
		var err error
		switch string(key) {
		case "product_name_normalized":
			a.Product, err = l.str()
		case "product_name_version":
			a.ProductVersion, err = l.str()
		case "vendor_normalized":
			a.Vendor, err = l.str()
		case "sub_status":
			a.SubStatus, err = l.str()
		case "patch_publication_date":
			a.PatchPublished, err = l.str()
		default:
			return l.skip()
		}
		return err
	})
}

func (d *findingsDecoder) extApp(a *App, remIDs *[]string, el **EvaluationLogic) error {
	l := &d.lex
	return l.object(func(key []byte) error {
		var err error
		switch string(key) {
		case "product_name_normalized":
			a.Product, err = l.str()
		case "product_name_version":
			a.ProductVersion, err = l.str()
		case "vendor_normalized":
			a.Vendor, err = l.str()
		case "sub_status":
			a.SubStatus, err = l.str()
		case "patch_publication_date":
			a.PatchPublished, err = l.str()
		case "remediation":
			err = l.object(func(key []byte) error {
				if string(key) != "ids" {
					return l.skip()
				}
				ids, err := l.strs()
				*remIDs = append(*remIDs, ids...)
				return err
			})
		case "evaluation_logic":
			if l.null() {
				return nil
			}
			e := &EvaluationLogic{}
			*el = e
			err = d.evaluationLogic(e)
		default:
			return l.skip()
		}
		return err
	})
}

func (d *findingsDecoder) evaluationLogic(e *EvaluationLogic) error {
	l := &d.lex
	return l.object(func(key []byte) error {
		var err error
		switch string(key) {
		case "id":
			e.ID, err = l.str()
		case "logic":
			err = l.array(func() error {
				return l.object(func(key []byte) error {
					switch string(key) {
					case "title":
						t, err := l.str()
						if err == nil && t != "" {
							if e.Title == "" {
								e.Title = t
							}
							e.Items = append(e.Items, t)
						}
						return err
					default:
						return l.skip()
					}
				})
			})
		default:
			return l.skip()
		}
		return err
	})
}

func (d *findingsDecoder) remediationFacet(f *Finding) error {
	l := &d.lex
	return l.object(func(key []byte) error {
		var err error
		switch string(key) {
		case "ids":
			f.RemediationIDs, err = l.strs()
		case "entities":
			err = l.array(func() error {
				var r Remediation
				if err := d.remediation(&r); err != nil {
					return err
				}
				f.Remediations = append(f.Remediations, r)
				return nil
			})
		default:
			return l.skip()
		}
		return err
	})
}

func (d *findingsDecoder) remediation(r *Remediation) error {
	l := &d.lex
	return l.object(func(key []byte) error {
		var err error
		switch string(key) {
		case "id":
			r.ID, err = l.str()
		case "title":
			r.Title, err = l.str()
		case "action":
			r.Action, err = l.str()
		case "reference":
			r.Reference, err = l.str()
		case "link":
			r.Link, err = l.str()
		case "vendor_url":
			r.VendorURL, err = l.str()
		case "type":
			r.Type, err = l.str()
		case "provider":
			r.Provider, err = l.str()
		case "recommendation_type":
			r.RecommendationType, err = l.str()
		case "patch_publication_date":
			err = d.timestamp(&timeField{t: &r.PatchPublished})
		default:
			return l.skip()
		}
		return err
	})
}

func (d *findingsDecoder) host(h *HostFacet) error {
	l := &d.lex
	return l.object(func(key []byte) error {
		var err error
		switch string(key) {
		case "hostname":
			h.Hostname, err = l.str()
		case "platform", "platform_name":
			var s string
			if s, err = l.str(); err == nil && s != "" {
				h.Platform = s
			}
		case "os_version":
			h.OSVersion, err = l.str()
		case "product_type_desc":
			h.ProductTypeDesc, err = l.str()
		case "asset_criticality":
			h.AssetCriticality, err = l.str()
		case "asset_roles":
			h.AssetRoles, err = l.strs()
		case "internet_exposure":
			h.InternetExposure, err = l.str()
		case "tags":
			h.Tags, err = l.strs()
		case "groups":
			err = l.array(func() error {
				// Groups are objects {id, name}; a bare string is accepted
				// as a name too.
				if l.peek() == '"' || l.peek() == 'n' {
					s, err := l.str()
					if err == nil && s != "" {
						h.Groups = append(h.Groups, s)
					}
					return err
				}
				var name, id string
				err := l.object(func(key []byte) error {
					var err error
					switch string(key) {
					case "name":
						name, err = l.str()
					case "id":
						id, err = l.str()
					default:
						return l.skip()
					}
					return err
				})
				if name == "" {
					name = id
				}
				if err == nil && name != "" {
					h.Groups = append(h.Groups, name)
				}
				return err
			})
		case "local_ip":
			h.LocalIP, err = l.str()
		case "machine_domain":
			h.MachineDomain, err = l.str()
		case "ou":
			h.OU, err = l.str()
		case "site_name":
			h.SiteName, err = l.str()
		case "managed_by":
			h.ManagedBy, err = l.str()
		case "instance_state":
			h.InstanceState, err = l.str()
		case "host_last_seen_timestamp":
			err = d.timestamp(&timeField{t: &h.LastSeen})
		default:
			return l.skip()
		}
		return err
	})
}

func (d *findingsDecoder) cve(c *CVEFacet) error {
	l := &d.lex
	return l.object(func(key []byte) error {
		var err error
		switch string(key) {
		case "id":
			c.ID, err = l.str()
		case "name":
			c.Name, err = l.str()
		case "description":
			c.Description, err = l.str()
		case "base_score":
			c.BaseScore, err = l.float()
		case "vector":
			c.Vector, err = l.str()
		case "severity":
			c.Severity, err = l.str()
		case "exprt_rating":
			c.ExprtRating, err = l.str()
		case "exploit_status":
			var n int64
			n, err = l.int()
			c.ExploitStatus = clampInt(n)
		case "is_cisa_kev":
			var b bool
			if b, err = l.boolean(); b {
				c.IsCISAKEV = true
			}
		case "cisa_info":
			err = l.object(func(key []byte) error {
				var err error
				switch string(key) {
				case "is_cisa_kev":
					var b bool
					if b, err = l.boolean(); b {
						c.IsCISAKEV = true
					}
				case "due_date":
					var s string
					if s, err = l.str(); s != "" {
						c.CISADueDate = s
					}
				default:
					return l.skip()
				}
				return err
			})
		case "cisa_due_date":
			var s string
			if s, err = l.str(); s != "" {
				c.CISADueDate = s
			}
		case "published_date":
			err = d.timestamp(&timeField{t: &c.Published})
		case "remediation_level":
			c.RemediationLevel, err = l.str()
		case "actors":
			c.Actors, err = l.strs()
		case "cwes":
			c.CWEs, err = l.strs()
		case "references":
			c.References, err = l.strs()
		case "vendor_advisory":
			c.VendorAdvisory, err = l.strs()
		case "types":
			c.Types, err = l.strs()
		default:
			return l.skip()
		}
		return err
	})
}

// timeField points at either a time.Time or a *time.Time to fill.
type timeField struct {
	t *time.Time
	p **time.Time
}

func (tf *timeField) set(v time.Time) {
	switch {
	case tf.t != nil:
		*tf.t = v
	case tf.p != nil && !v.IsZero():
		*tf.p = &v
	}
}

func appendUnique(dst []string, vals ...string) []string {
outer:
	for _, v := range vals {
		for _, have := range dst {
			if have == v {
				continue outer
			}
		}
		dst = append(dst, v)
	}
	return dst
}

// errPage wraps a decode failure so that the stream knows to retry the page.
func errPage(err error) error { return fmt.Errorf("invalid page: %w", err) }
