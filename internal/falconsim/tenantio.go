package falconsim

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vulnpilot/vulnpilot/internal/cvedata"
)

// Allowed values of tenant enums. Empty strings are allowed where Resolve
// fills a default (see Resolve).
var (
	platforms          = []string{"Windows", "Linux", "Mac"}
	productTypes       = []string{"Workstation", "Server", "Domain Controller"}
	criticalities      = []string{"Critical", "High", "Noncritical", "Unassigned"}
	exposures          = []string{"Yes", "No", "Pending"}
	hostStatuses       = []string{"normal", "containment_pending", "contained", "lift_containment_pending"}
	findingStatuses    = []string{"open", "closed", "reopen", "expired"}
	suppressionReasons = []string{"ACCEPT_RISK", "COMPENSATING_CONTROL", "FALSE_POSITIVE"}
	confidences        = []string{"confirmed", "potential"}
	alertStatuses      = []string{"new", "in_progress", "closed", "reopened"}
	remediationTypes   = []string{"patch", "upgrade", "workaround"}
	cveSeverities      = []string{"NONE", "LOW", "MEDIUM", "HIGH", "CRITICAL"}
	exprtRatings       = []string{ExprtLow, ExprtMedium, ExprtHigh, ExprtCritical}
	exploitStatuses    = []int{ExploitUnproven, ExploitAvailable, ExploitEasilyAccessible, ExploitActivelyExploited}
	remediationLevels  = []string{"O", "T", "W", "U"}
)

// tenantIDPattern restricts aids and cids: they are embedded in composite ids
// (finding "<aid>_<hex>", alert "<cid>:ind:<aid>:<hex>"), so separators and
// spaces are not allowed.
var tenantIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]*$`)

// maxProblems bounds how many validation problems one error reports.
const maxProblems = 20

// ValidationError lists the problems Validate found, each naming the JSON
// path of the offending value.
type ValidationError struct {
	File     string   // file or stream name; may be empty
	Problems []string // e.g. `findings[12].aid: unknown host "abc" (not in hosts[])`
	Omitted  int      // problems found beyond the reported ones
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteByte('\n')
		}
		if e.File != "" {
			b.WriteString(e.File)
			b.WriteString(": ")
		}
		b.WriteString(p)
	}
	if e.Omitted > 0 {
		fmt.Fprintf(&b, "\n... and %d more problems", e.Omitted)
	}
	return b.String()
}

// LoadTenant reads and validates a tenant file: JSON, gzip-compressed when the
// name ends in .gz. Errors name the file and the JSON path of the problem.
func LoadTenant(path string) (*Tenant, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		defer zr.Close()
		r = zr
	}
	return ReadTenant(r, path)
}

// ReadTenant decodes a tenant from r and validates it; name (a file name) is
// used in errors. Unknown fields are errors. Nothing is returned on error.
func ReadTenant(r io.Reader, name string) (*Tenant, error) {
	t, err := decodeTenant(bufio.NewReaderSize(r, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := t.Validate(); err != nil {
		var ve *ValidationError
		if errors.As(err, &ve) {
			ve.File = name
			return nil, ve
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return t, nil
}

// jsonField is one JSON member of a struct: its name, field index and
// whether encoding omits it when empty.
type jsonField struct {
	name  string
	index int
	omit  bool
}

func jsonFields(t reflect.Type) []jsonField {
	var out []jsonField
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if !f.IsExported() || tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		out = append(out, jsonField{name: name, index: i, omit: strings.Contains(opts, "omitempty") || strings.Contains(opts, "omitzero")})
	}
	return out
}

func fieldNames(fs []jsonField) string {
	names := make([]string, len(fs))
	for i, f := range fs {
		names[i] = f.name
	}
	return strings.Join(names, ", ")
}

// decodeTenant walks the top-level object itself so that every error can name
// its JSON path with array indices (findings[12].created), which
// encoding/json does not report. Values are decoded straight from the
// stream; the recorder keeps the bytes of the value being decoded so that a
// failure can be explained member by member.
func decodeTenant(r io.Reader) (*Tenant, error) {
	rec := &recorder{r: r}
	dec := json.NewDecoder(rec)
	dec.DisallowUnknownFields()
	tok, err := dec.Token()
	if err == io.EOF {
		return nil, errors.New("empty input: want a JSON object")
	}
	if err != nil {
		return nil, syntaxErr("", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("want a JSON object, got %v", tok)
	}
	t := &Tenant{}
	tv := reflect.ValueOf(t).Elem()
	fields := jsonFields(tv.Type())
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, syntaxErr("", err)
		}
		key := tok.(string)
		i := slices.IndexFunc(fields, func(f jsonField) bool { return f.name == key })
		if i < 0 {
			return nil, fmt.Errorf("%s: unknown field (allowed: %s)", key, fieldNames(fields))
		}
		if seen[key] {
			return nil, fmt.Errorf("%s: field appears twice", key)
		}
		seen[key] = true
		fv := tv.Field(fields[i].index)
		if fv.Kind() == reflect.Slice && fv.Type().Elem().Kind() == reflect.Struct {
			if err := decodeArray(dec, rec, key, fv); err != nil {
				return nil, err
			}
			continue
		}
		if err := decodeNext(dec, rec, fv.Addr().Interface(), key); err != nil {
			return nil, err
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, syntaxErr("", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("unexpected data after the tenant object")
	}
	return t, nil
}

func decodeArray(dec *json.Decoder, rec *recorder, key string, fv reflect.Value) error {
	tok, err := dec.Token()
	if err != nil {
		return syntaxErr(key, err)
	}
	if tok == nil {
		return nil // null: no elements
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return fmt.Errorf("%s: want an array, got %v", key, tok)
	}
	elemType := fv.Type().Elem()
	slice := fv
	for i := 0; dec.More(); i++ {
		slice = reflect.Append(slice, reflect.Zero(elemType))
		if err := decodeNext(dec, rec, slice.Index(i).Addr().Interface(), key+"["+strconv.Itoa(i)+"]"); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil {
		return syntaxErr(key, err)
	}
	fv.Set(slice)
	return nil
}

// decodeNext decodes the stream's next value into v; on failure it explains
// the error with the JSON path.
func decodeNext(dec *json.Decoder, rec *recorder, v any, path string) error {
	start := dec.InputOffset()
	rec.trim(start)
	err := dec.Decode(v)
	if err == nil {
		return nil
	}
	if _, ok := errors.AsType[*json.SyntaxError](err); ok || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return syntaxErr(path, err)
	}
	raw := rec.bytes(start, dec.InputOffset())
	raw = bytes.TrimLeft(raw, ",: \t\r\n") // separators before the value
	return explainDecodeError(raw, reflect.TypeOf(v).Elem(), path, err)
}

// recorder remembers the bytes a json.Decoder reads, from the start of the
// value being decoded on, so a value that failed can be re-read.
type recorder struct {
	r    io.Reader
	buf  []byte
	base int64 // stream offset of buf[0]
}

func (c *recorder) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.buf = append(c.buf, p[:n]...)
	return n, err
}

// trim forgets the bytes before stream offset off.
func (c *recorder) trim(off int64) {
	if d := int(off - c.base); d > 0 && d <= len(c.buf) {
		n := copy(c.buf, c.buf[d:])
		c.buf = c.buf[:n]
		c.base = off
	}
}

func (c *recorder) bytes(from, to int64) []byte {
	lo, hi := int(from-c.base), int(to-c.base)
	if lo < 0 || hi > len(c.buf) || lo > hi {
		return nil
	}
	return c.buf[lo:hi]
}

// decodeValue decodes raw (a complete JSON value) into v, rejecting unknown
// fields, and turns a failure into an error naming the JSON path.
func decodeValue(raw []byte, v any, path string) error {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return explainDecodeError(raw, reflect.TypeOf(v).Elem(), path, err)
	}
	return nil
}

// explainDecodeError finds which member of raw could not be decoded. It runs
// only on the error path, so it may decode member by member.
func explainDecodeError(raw []byte, t reflect.Type, path string, err error) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() == reflect.Struct && t != reflect.TypeFor[time.Time]() {
		var members map[string]json.RawMessage
		if json.Unmarshal(raw, &members) == nil {
			fields := jsonFields(t)
			names := make([]string, 0, len(members))
			for k := range members {
				names = append(names, k)
			}
			slices.Sort(names)
			for _, k := range names {
				i := slices.IndexFunc(fields, func(f jsonField) bool { return f.name == k })
				if i < 0 {
					return fmt.Errorf("%s.%s: unknown field (allowed: %s)", path, k, fieldNames(fields))
				}
				ft := t.Field(fields[i].index).Type
				pv := reflect.New(ft)
				if e := decodeValue(members[k], pv.Interface(), path+"."+k); e != nil {
					return e
				}
			}
		} else {
			return fmt.Errorf("%s: want a JSON object, got %s", path, describeJSON(raw))
		}
	}
	if t.Kind() == reflect.Slice && t.Elem().Kind() != reflect.Uint8 {
		var elems []json.RawMessage
		if json.Unmarshal(raw, &elems) == nil {
			for i, e := range elems {
				pv := reflect.New(t.Elem())
				if de := decodeValue(e, pv.Interface(), path+"["+strconv.Itoa(i)+"]"); de != nil {
					return de
				}
			}
		}
	}
	base := t
	if base == reflect.TypeFor[time.Time]() {
		return fmt.Errorf("%s: %s is not an RFC 3339 timestamp (e.g. 2024-05-01T12:00:00Z)", path, describeJSON(raw))
	}
	if _, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		return fmt.Errorf("%s: want %s, got %s", path, jsonKind(base), describeJSON(raw))
	}
	return fmt.Errorf("%s: %v", path, err)
}

func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return t.String()
}

// describeJSON quotes a short form of a JSON value for an error message.
func describeJSON(raw []byte) string {
	s := string(bytes.TrimSpace(raw))
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return s
}

func syntaxErr(path string, err error) error {
	if path == "" {
		return fmt.Errorf("invalid JSON: %w", err)
	}
	return fmt.Errorf("%s: invalid JSON: %w", path, err)
}

// Save writes the tenant to path atomically (a temporary file in the same
// directory, renamed over path), gzip-compressed when path ends in .gz. The
// output is deterministic: the same tenant gives the same bytes.
func (t *Tenant) Save(path string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	bw := bufio.NewWriterSize(tmp, 1<<20)
	var w io.Writer = bw
	var zw *gzip.Writer
	if strings.HasSuffix(path, ".gz") {
		zw = gzip.NewWriter(bw)
		w = zw
	}
	if err := t.WriteJSON(w); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			return err
		}
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	ok = true
	return nil
}

// WriteJSON writes the tenant as JSON: a top-level object with one array
// element per line, so that large tenants stream (no whole-document buffer)
// and stay greppable and hand-editable. HTML characters are not escaped.
func (t *Tenant) WriteJSON(w io.Writer) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	encode := func(v any) ([]byte, error) {
		buf.Reset()
		if err := enc.Encode(v); err != nil {
			return nil, err
		}
		return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
	}
	ew := &errWriter{w: w}
	ew.str("{")
	tv := reflect.ValueOf(t).Elem()
	first := true
	for _, f := range jsonFields(tv.Type()) {
		fv := tv.Field(f.index)
		if f.omit && fv.IsZero() || f.omit && fv.Kind() == reflect.Slice && fv.Len() == 0 {
			continue
		}
		if !first {
			ew.str(",")
		}
		first = false
		ew.str("\n  " + strconv.Quote(f.name) + ": ")
		if fv.Kind() == reflect.Slice && fv.Type().Elem().Kind() == reflect.Struct {
			if fv.Len() == 0 {
				ew.str("[]")
				continue
			}
			ew.str("[")
			for i := range fv.Len() {
				b, err := encode(fv.Index(i).Interface())
				if err != nil {
					return fmt.Errorf("%s[%d]: %w", f.name, i, err)
				}
				if i > 0 {
					ew.str(",")
				}
				ew.str("\n    ")
				ew.bytes(b)
				if ew.err != nil {
					return ew.err
				}
			}
			ew.str("\n  ]")
			continue
		}
		b, err := encode(fv.Interface())
		if err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
		ew.bytes(b)
	}
	ew.str("\n}\n")
	return ew.err
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) bytes(b []byte) {
	if e.err == nil {
		_, e.err = e.w.Write(b)
	}
}

func (e *errWriter) str(s string) {
	if e.err == nil {
		_, e.err = io.WriteString(e.w, s)
	}
}

// valProblems collects validation problems up to maxProblems.
type valProblems struct {
	list    []string
	omitted int
}

func (p *valProblems) add(format string, args ...any) {
	if len(p.list) >= maxProblems {
		p.omitted++
		return
	}
	p.list = append(p.list, fmt.Sprintf(format, args...))
}

func (p *valProblems) oneOf(path, v string, allowed []string, emptyOK bool) {
	if v == "" && emptyOK || slices.Contains(allowed, v) {
		return
	}
	if v == "" {
		p.add("%s: required, one of %s", path, strings.Join(allowed, ", "))
		return
	}
	p.add("%s: %q is not one of %s", path, v, strings.Join(allowed, ", "))
}

// unique records that item i of list (its field at path) has id, or
// reports the earlier item it duplicates.
func (p *valProblems) unique(seen map[string]int, path, list string, i int, id string) {
	if j, dup := seen[id]; dup {
		p.add("%s: %q duplicates %s[%d]", path, id, list, j)
		return
	}
	seen[id] = i
}

// timeOrder reports a problem when a later timestamp precedes an earlier
// one; zero timestamps are skipped.
func (p *valProblems) timeOrder(earlierPath string, earlier time.Time, laterPath string, later time.Time) {
	if earlier.IsZero() || later.IsZero() || !later.Before(earlier) {
		return
	}
	p.add("%s: %s is before %s (%s)", laterPath, later.UTC().Format(time.RFC3339), earlierPath, earlier.UTC().Format(time.RFC3339))
}

func (p *valProblems) notAfterNow(path string, ts, now time.Time) {
	if ts.IsZero() || now.IsZero() || !ts.After(now) {
		return
	}
	p.add("%s: %s is after the tenant's now (%s)", path, ts.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
}

// Validate checks the tenant's structure: version, unique ids, enum values,
// references between sections (finding→host, finding→remediation,
// alert→host), timestamp order (created ≤ updated ≤ now) and CVE id format.
// Values Resolve fills (empty ids, statuses, criticality...) may be empty. It
// reports up to 20 problems in one *ValidationError.
func (t *Tenant) Validate() error {
	var p valProblems
	if t.Version != TenantVersion {
		p.add("version: %d is not supported (want %d)", t.Version, TenantVersion)
	}
	if t.CID == "" {
		p.add("cid: required")
	} else if !tenantIDPattern.MatchString(t.CID) {
		p.add("cid: %q may contain only letters, digits and '-'", t.CID)
	}
	if t.Now.IsZero() {
		p.add("now: required (the dataset's present, an RFC 3339 timestamp)")
	}
	now := t.Now

	clientIDs := map[string]int{}
	for i, c := range t.Clients {
		path := fmt.Sprintf("clients[%d]", i)
		if c.ClientID == "" {
			p.add("%s.client_id: required", path)
		} else {
			p.unique(clientIDs, path+".client_id", "clients", i, c.ClientID)
		}
		if c.ClientSecret == "" { // never echo the secret itself
			p.add("%s.client_secret: required", path)
		}
		for j, s := range c.Scopes {
			if s == "" {
				p.add("%s.scopes[%d]: empty scope", path, j)
			}
		}
	}

	hosts := make(map[string]int, len(t.Hosts))
	for i := range t.Hosts {
		h := &t.Hosts[i]
		path := fmt.Sprintf("hosts[%d]", i)
		switch {
		case h.AID == "":
			p.add("%s.aid: required", path)
		case !tenantIDPattern.MatchString(h.AID):
			p.add("%s.aid: %q may contain only letters, digits and '-'", path, h.AID)
		default:
			p.unique(hosts, path+".aid", "hosts", i, h.AID)
		}
		if h.Hostname == "" {
			p.add("%s.hostname: required", path)
		}
		p.oneOf(path+".platform", h.Platform, platforms, false)
		p.oneOf(path+".product_type_desc", h.ProductTypeDesc, productTypes, false)
		p.oneOf(path+".asset_criticality", h.AssetCriticality, criticalities, true)
		p.oneOf(path+".internet_exposure", h.InternetExposure, exposures, true)
		p.oneOf(path+".status", h.Status, hostStatuses, true)
		p.timeOrder(path+".first_seen", h.FirstSeen, path+".last_seen", h.LastSeen)
		p.notAfterNow(path+".first_seen", h.FirstSeen, now)
		p.notAfterNow(path+".last_seen", h.LastSeen, now)
	}

	cves := make(map[string]int, len(t.CVEs))
	for i := range t.CVEs {
		c := &t.CVEs[i]
		path := fmt.Sprintf("cves[%d]", i)
		if !cvedata.ValidCVEID(c.ID) {
			p.add("%s.id: %q is not a CVE id (CVE-YYYY-NNNN)", path, c.ID)
		} else {
			p.unique(cves, path+".id", "cves", i, c.ID)
		}
		if c.BaseScore < 0 || c.BaseScore > 10 {
			p.add("%s.base_score: %v is outside 0..10", path, c.BaseScore)
		}
		p.oneOf(path+".severity", c.Severity, cveSeverities, true)
		p.oneOf(path+".exprt_rating", c.ExprtRating, exprtRatings, true)
		if !slices.Contains(exploitStatuses, c.ExploitStatus) {
			p.add("%s.exploit_status: %d is not one of 0, 30, 60, 90", path, c.ExploitStatus)
		}
		p.oneOf(path+".remediation_level", c.RemediationLevel, remediationLevels, true)
		if c.CISADueDate != "" {
			if _, err := time.Parse(time.DateOnly, c.CISADueDate); err != nil {
				p.add("%s.cisa_due_date: %q is not a YYYY-MM-DD date", path, c.CISADueDate)
			}
		}
		if c.SSVC != nil {
			p.oneOf(path+".ssvc.exploitation", c.SSVC.Exploitation, []string{"none", "poc", "active"}, false)
			p.oneOf(path+".ssvc.automatable", c.SSVC.Automatable, []string{"yes", "no"}, false)
			p.oneOf(path+".ssvc.technical_impact", c.SSVC.TechnicalImpact, []string{"partial", "total"}, false)
		}
	}

	rems := make(map[string]int, len(t.Remediations))
	for i := range t.Remediations {
		r := &t.Remediations[i]
		path := fmt.Sprintf("remediations[%d]", i)
		if r.ID == "" {
			p.add("%s.id: required", path)
		} else {
			p.unique(rems, path+".id", "remediations", i, r.ID)
		}
		if r.Title == "" {
			p.add("%s.title: required", path)
		}
		p.oneOf(path+".type", r.Type, remediationTypes, true)
	}

	findingIDs := make(map[string]int, len(t.Findings))
	for i := range t.Findings {
		f := &t.Findings[i]
		path := fmt.Sprintf("findings[%d]", i)
		if f.AID == "" {
			p.add("%s.aid: required", path)
		} else if _, ok := hosts[f.AID]; !ok {
			p.add("%s.aid: unknown host %q (not in hosts[])", path, f.AID)
		}
		if !cvedata.ValidCVEID(f.CVE) {
			p.add("%s.cve: %q is not a CVE id (CVE-YYYY-NNNN)", path, f.CVE)
		}
		if f.Product == "" {
			p.add("%s.product: required", path)
		}
		id := f.ID
		if id == "" {
			id = FindingID(f.AID, f.CVE, f.Product)
		}
		if j, dup := findingIDs[id]; dup {
			if f.ID == "" {
				p.add("%s: same aid, cve and product as findings[%d] (their derived ids collide)", path, j)
			} else {
				p.add("%s.id: %q duplicates findings[%d]", path, f.ID, j)
			}
		} else {
			findingIDs[id] = i
		}
		p.oneOf(path+".status", f.Status, findingStatuses, true)
		p.oneOf(path+".confidence", f.Confidence, confidences, true)
		if f.Created.IsZero() {
			p.add("%s.created: required", path)
		}
		p.timeOrder(path+".created", f.Created, path+".updated", f.Updated)
		p.notAfterNow(path+".created", f.Created, now)
		p.notAfterNow(path+".updated", f.Updated, now)
		if f.Closed != nil {
			if f.Status == "" || f.Status == "open" {
				p.add("%s.closed: set on an open finding (status must be closed, reopen or expired)", path)
			}
			p.timeOrder(path+".created", f.Created, path+".closed", *f.Closed)
			p.notAfterNow(path+".closed", *f.Closed, now)
		}
		for j, rid := range f.RemediationIDs {
			if _, ok := rems[rid]; !ok {
				p.add("%s.remediation_ids[%d]: unknown remediation %q (not in remediations[])", path, j, rid)
			}
		}
		if f.Suppressed {
			p.oneOf(path+".suppression_reason", f.SuppressionReason, suppressionReasons, false)
		} else if f.SuppressionReason != "" {
			p.add("%s.suppression_reason: set but suppressed is false", path)
		}
	}

	alertIDs := make(map[string]int, len(t.Alerts))
	for i := range t.Alerts {
		a := &t.Alerts[i]
		path := fmt.Sprintf("alerts[%d]", i)
		if a.AID == "" {
			p.add("%s.aid: required", path)
		} else if j, ok := hosts[a.AID]; !ok {
			p.add("%s.aid: unknown host %q (not in hosts[])", path, a.AID)
		} else if !t.Hosts[j].Managed {
			p.add("%s.aid: host %q is unmanaged (no sensor), so it cannot raise alerts", path, a.AID)
		}
		id := a.ID
		if id == "" {
			id = AlertID(t.CID, a.AID, a.Created, a.Name)
		}
		if j, dup := alertIDs[id]; dup {
			if a.ID == "" {
				p.add("%s: same aid, created and name as alerts[%d] (their derived ids collide)", path, j)
			} else {
				p.add("%s.id: %q duplicates alerts[%d]", path, a.ID, j)
			}
		} else {
			alertIDs[id] = i
		}
		if a.Name == "" {
			p.add("%s.name: required", path)
		}
		if a.Severity < 1 || a.Severity > 100 {
			p.add("%s.severity: %d is outside 1..100", path, a.Severity)
		}
		p.oneOf(path+".status", a.Status, alertStatuses, true)
		if a.Created.IsZero() {
			p.add("%s.created: required", path)
		}
		p.timeOrder(path+".created", a.Created, path+".updated", a.Updated)
		p.notAfterNow(path+".created", a.Created, now)
		p.notAfterNow(path+".updated", a.Updated, now)
	}

	intel := make(map[string]int, len(t.Intel))
	for i := range t.Intel {
		v := &t.Intel[i]
		path := fmt.Sprintf("intel[%d]", i)
		if !cvedata.ValidCVEID(v.CVE) {
			p.add("%s.cve: %q is not a CVE id (CVE-YYYY-NNNN)", path, v.CVE)
		} else {
			p.unique(intel, path+".cve", "intel", i, v.CVE)
		}
		for j, a := range v.Actors {
			if a.ID == "" || a.Name == "" {
				p.add("%s.actors[%d]: id and name are required", path, j)
			}
		}
		for j, r := range v.Reports {
			if r.SerialID == "" {
				p.add("%s.reports[%d].serial_id: required", path, j)
			}
		}
	}

	if len(p.list) == 0 {
		return nil
	}
	return &ValidationError{Problems: p.list, Omitted: p.omitted}
}

// FindingID is the id Resolve gives a finding without one: Falcon's
// "<aid>_<32 hex digits>" shape, derived from aid, CVE and product so it is
// stable across runs.
func FindingID(aid, cve, product string) string {
	return aid + "_" + digestHex(aid, cve, product)
}

// AlertID is the composite id Resolve gives an alert without one, in the
// shape "<cid>:ind:<aid>:<hex>", derived from its host, creation time and
// name.
func AlertID(cid, aid string, created time.Time, name string) string {
	return cid + ":ind:" + aid + ":" + digestHex(aid, created.UTC().Format(time.RFC3339Nano), name)
}

// digestHex is 32 hex digits of SHA-256 over the NUL-separated parts.
func digestHex(parts ...string) string {
	h := sha256.New()
	for _, s := range parts {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0])[:16])
}

// Resolve fills what a hand-written tenant may leave out, so the simulator
// can serve it:
//   - hosts: asset_criticality "Unassigned", internet_exposure "Pending",
//     status "normal", last_seen = now, first_seen = the earlier of last_seen
//     and the host's first finding;
//   - findings: id (FindingID), status "open", confidence "confirmed",
//     updated = created (or closed, if later), closed = updated for a closed
//     finding;
//   - alerts: id (AlertID), status "new", updated = created;
//   - cves: a facet (CVEFromRecord, with KEV as of the tenant's now) for every
//     finding CVE missing from cves, from the bundled real records.
//
// A finding CVE in neither cves nor db is an error naming the finding; on
// error the tenant is left unchanged. Resolve is idempotent.
func (t *Tenant) Resolve(db *cvedata.DB) error {
	known := make(map[string]bool, len(t.CVEs))
	for _, c := range t.CVEs {
		known[c.ID] = true
	}
	var missing []CVE
	var p valProblems
	for i, f := range t.Findings {
		if known[f.CVE] {
			continue
		}
		rec, ok := cvedata.Record{}, false
		if db != nil {
			rec, ok = db.Get(f.CVE)
		}
		if !ok {
			p.add("findings[%d].cve: %s is neither in cves[] nor in the bundled CVE records", i, f.CVE)
			continue
		}
		known[f.CVE] = true
		missing = append(missing, CVE{ID: rec.ID}) // filled below, once KEV is known
	}
	if len(p.list) > 0 {
		return &ValidationError{Problems: p.list, Omitted: p.omitted}
	}
	if len(missing) > 0 {
		kev := KEVIndexFromDB(db).AsOf(t.Now)
		for i := range missing {
			rec, _ := db.Get(missing[i].ID)
			missing[i] = CVEFromRecord(rec, kev)
		}
		t.CVEs = append(t.CVEs, missing...)
	}

	firstFinding := make(map[string]time.Time, len(t.Hosts))
	for i := range t.Findings {
		f := &t.Findings[i]
		if f.ID == "" {
			f.ID = FindingID(f.AID, f.CVE, f.Product)
		}
		if f.Status == "" {
			f.Status = "open"
		}
		if f.Confidence == "" {
			f.Confidence = "confirmed"
		}
		if f.Updated.IsZero() {
			f.Updated = f.Created
			if f.Closed != nil && f.Closed.After(f.Updated) {
				f.Updated = *f.Closed
			}
		}
		if f.Status == "closed" && f.Closed == nil {
			c := f.Updated
			f.Closed = &c
		}
		if ff, ok := firstFinding[f.AID]; !f.Created.IsZero() && (!ok || f.Created.Before(ff)) {
			firstFinding[f.AID] = f.Created
		}
	}
	for i := range t.Hosts {
		h := &t.Hosts[i]
		if h.AssetCriticality == "" {
			h.AssetCriticality = "Unassigned"
		}
		if h.InternetExposure == "" {
			h.InternetExposure = "Pending"
		}
		if h.Status == "" {
			h.Status = "normal"
		}
		if h.LastSeen.IsZero() {
			h.LastSeen = t.Now
		}
		if h.FirstSeen.IsZero() {
			h.FirstSeen = h.LastSeen
			if ff, ok := firstFinding[h.AID]; ok && ff.Before(h.FirstSeen) {
				h.FirstSeen = ff
			}
		}
	}
	for i := range t.Alerts {
		a := &t.Alerts[i]
		if a.ID == "" {
			a.ID = AlertID(t.CID, a.AID, a.Created, a.Name)
		}
		if a.Status == "" {
			a.Status = "new"
		}
		if a.Updated.IsZero() {
			a.Updated = a.Created
		}
	}
	return nil
}
