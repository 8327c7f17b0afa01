package falcon

import (
	"bytes"
	"io"
	"sync"
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
// entities endpoints) straight into Finding. One decoder serves one
// goroutine; its interner makes repeated strings across pages share memory.
type findingsDecoder struct {
	lex lexer
	in  *interner
	fc  *facetCache
	bad *atomic.Int64 // unreadable timestamps, shared with Stats
	// localBad counts unreadable timestamps of the page being decoded; it
	// is added to bad once per page.
	localBad atomic.Int64
}

// facetCache holds decoded facets keyed by their exact JSON: every finding
// of a CVE carries the same cve facet, every finding of a host the same
// host_info, so after the first occurrence a facet costs a scan and a map
// lookup instead of a decode. The decoders of one stream share it (the
// shards interleave the same hosts and CVEs); the cached values' slices are
// shared by the findings that use them. Its keys are bounded in total size.
type facetCache struct {
	mu    sync.RWMutex
	hosts map[string]cachedFacet[HostFacet]
	cves  map[string]cachedFacet[CVEFacet]
	rems  map[string]cachedFacet[Remediation]
	size  int
}

type cachedFacet[T any] struct {
	v   T
	bad int64 // unreadable timestamps inside, counted again on each use
}

// maxFacetCacheBytes bounds a facet cache (keys, and values counted as
// their JSON size again); it is reset past it.
const maxFacetCacheBytes = 16 << 20

func newFacetCache() *facetCache {
	return &facetCache{hosts: map[string]cachedFacet[HostFacet]{}, cves: map[string]cachedFacet[CVEFacet]{},
		rems: map[string]cachedFacet[Remediation]{}}
}

// newFindingsDecoder makes a decoder; fc may be shared with other decoders
// of the same stream, or nil for a private one.
func newFindingsDecoder(bad *atomic.Int64, fc *facetCache) *findingsDecoder {
	if fc == nil {
		fc = newFacetCache()
	}
	in := newInterner()
	return &findingsDecoder{in: in, lex: lexer{in: in}, fc: fc, bad: bad}
}

// cachedDecode decodes the value at the lexer's position through the facet
// cache map that pick selects.
func cachedDecode[T any](d *findingsDecoder, pick func(*facetCache) map[string]cachedFacet[T], dst *T, decode func(*T) error) error {
	l := &d.lex
	l.ws()
	start := l.pos
	if err := l.skip(); err != nil {
		return err
	}
	raw := l.data[start:l.pos]
	fc := d.fc
	fc.mu.RLock()
	c, ok := pick(fc)[string(raw)]
	fc.mu.RUnlock()
	if ok {
		*dst = c.v
		if c.bad != 0 {
			d.localBad.Add(c.bad)
		}
		return nil
	}
	end := l.pos
	l.pos = start
	before := d.localBad.Load()
	if err := decode(dst); err != nil {
		return err
	}
	l.pos = end
	entry := cachedFacet[T]{v: *dst, bad: d.localBad.Load() - before}
	fc.mu.Lock()
	if fc.size+2*len(raw) > maxFacetCacheBytes {
		clear(fc.hosts)
		clear(fc.cves)
		clear(fc.rems)
		fc.size = 0
	}
	if _, dup := pick(fc)[string(raw)]; !dup {
		pick(fc)[string(raw)] = entry
		fc.size += 2 * len(raw)
	}
	fc.mu.Unlock()
	return nil
}

func pickHosts(fc *facetCache) map[string]cachedFacet[HostFacet]  { return fc.hosts }
func pickCVEs(fc *facetCache) map[string]cachedFacet[CVEFacet]    { return fc.cves }
func pickRems(fc *facetCache) map[string]cachedFacet[Remediation] { return fc.rems }

// DecodeFindingsPage decodes one Spotlight vulnerabilities response body
// (GET /spotlight/combined/vulnerabilities/v1 or the entities endpoint) into
// findings, returning the page's after cursor and total. It is the decoder of
// the streaming hot path, exported so that benchmarks can measure the decode
// floor on fixed bytes. A malformed or truncated body is an error.
func DecodeFindingsPage(r io.Reader) (findings []Finding, after string, total int64, err error) {
	var buf bytes.Buffer
	if l, ok := r.(interface{ Len() int }); ok {
		buf.Grow(l.Len() + bytes.MinRead)
	}
	if _, err := buf.ReadFrom(r); err != nil {
		return nil, "", 0, err
	}
	data := buf.Bytes()
	var bad atomic.Int64
	findings, meta, err := newFindingsDecoder(&bad, nil).decode(data, nil)
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
			if cap(out) == 0 && meta.Limit > 0 {
				// Falcon sends meta first: size the page once.
				out = make([]Finding, 0, min(meta.Limit, MaxPageSize))
			}
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
	if n := d.localBad.Swap(0); n != 0 && d.bad != nil {
		d.bad.Add(n)
	}
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

func (d *findingsDecoder) timestamp() (time.Time, error) {
	l := &d.lex
	if l.null() {
		return time.Time{}, nil
	}
	b, err := l.rawString()
	if err != nil {
		return time.Time{}, err
	}
	return parseTimeBytes(b, &d.localBad), nil
}

func (d *findingsDecoder) finding(f *Finding) error {
	l := &d.lex
	var vulnID string
	var appsRemIDs []string
	err := l.object(func(key []byte) error {
		var err error
		switch string(key) {
		case "id":
			f.ID, err = l.uniqueStr()
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
			f.Created, err = d.timestamp()
		case "updated_timestamp":
			f.Updated, err = d.timestamp()
		case "closed_timestamp":
			var t time.Time
			if t, err = d.timestamp(); !t.IsZero() {
				f.Closed = &t
			}
		case "app":
			err = d.app(&f.App, nil, nil)
		case "apps":
			err = l.array(func() error {
				var a App
				var ids []string
				var el *EvaluationLogic
				if err := d.app(&a, &ids, &el); err != nil {
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
			err = cachedDecode(d, pickHosts, &f.Host, d.host)
		case "cve":
			err = cachedDecode(d, pickCVEs, &f.CVEInfo, d.cve)
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

// app decodes the finding's "app" object (remIDs and el nil) or one entry of
// its "apps" array, which also carries remediation ids and evaluation logic.
func (d *findingsDecoder) app(a *App, remIDs *[]string, el **EvaluationLogic) error {
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
			if remIDs == nil {
				return l.skip()
			}
			err = l.object(func(key []byte) error {
				if string(key) != "ids" {
					return l.skip()
				}
				ids, err := l.strs()
				*remIDs = append(*remIDs, ids...)
				return err
			})
		case "evaluation_logic":
			if el == nil {
				return l.skip()
			}
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
				if err := cachedDecode(d, pickRems, &r, d.remediation); err != nil {
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
			r.PatchPublished, err = d.timestamp()
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
			h.LastSeen, err = d.timestamp()
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
			c.Published, err = d.timestamp()
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
