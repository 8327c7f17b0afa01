package tools

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Tool arguments are plain structs. The JSON schema a client sees and the
// checks a call goes through both come from the same struct tags, so they
// cannot drift apart:
//
//	json:"name,omitempty"  the argument name; without omitempty it is required
//	desc:"..."             description
//	enum:"a,b,c"           allowed values (strings, or the items of []string)
//	min:"1" max:"200"      inclusive bounds (int, float64)
//	default:"20"           value when absent (documented in the schema too)
//	minLength/maxLength    string length in characters (or of each item)
//	minItems/maxItems      list length ([]string)
//	pattern:"^CVE-…$"      regular expression (strings, or each item)
//	example:"CVE-2024-3400" shown in pattern errors
//
// Supported field types: string, int, float64, bool, []string.

type argField struct {
	name       string
	index      int
	kind       reflect.Kind // String, Int, Float64, Bool, Slice (of string)
	required   bool
	desc       string
	enum       []string
	min, max   *float64
	def        string
	minLen     int
	maxLen     int
	minItems   int
	maxItems   int
	pattern    *regexp.Regexp
	patternSrc string
	example    string
}

type argSpec struct {
	t      reflect.Type
	fields []argField
	schema json.RawMessage
}

func specFor(t reflect.Type) (*argSpec, error) {
	if t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("arguments type %s is not a struct", t)
	}
	sp := &argSpec{t: t}
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		tag := sf.Tag.Get("json")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" || name == "-" {
			return nil, fmt.Errorf("%s.%s: every argument needs a json name", t, sf.Name)
		}
		f := argField{name: name, index: i, required: !strings.Contains(opts, "omitempty"), desc: sf.Tag.Get("desc"),
			def: sf.Tag.Get("default"), example: sf.Tag.Get("example")}
		if f.desc == "" {
			return nil, fmt.Errorf("%s.%s: desc tag is required (the model reads it)", t, sf.Name)
		}
		switch sf.Type.Kind() {
		case reflect.String, reflect.Int, reflect.Float64, reflect.Bool:
			f.kind = sf.Type.Kind()
		case reflect.Slice:
			if sf.Type.Elem().Kind() != reflect.String {
				return nil, fmt.Errorf("%s.%s: only []string lists are supported", t, sf.Name)
			}
			f.kind = reflect.Slice
		default:
			return nil, fmt.Errorf("%s.%s: type %s is not supported", t, sf.Name, sf.Type)
		}
		if e := sf.Tag.Get("enum"); e != "" {
			f.enum = strings.Split(e, ",")
		}
		var err error
		num := func(tag string) *float64 {
			s := sf.Tag.Get(tag)
			if s == "" {
				return nil
			}
			v, perr := strconv.ParseFloat(s, 64)
			if perr != nil {
				err = fmt.Errorf("%s.%s: %s %q is not a number", t, sf.Name, tag, s)
			}
			return &v
		}
		integer := func(tag string) int {
			s := sf.Tag.Get(tag)
			if s == "" {
				return 0
			}
			v, perr := strconv.Atoi(s)
			if perr != nil {
				err = fmt.Errorf("%s.%s: %s %q is not an integer", t, sf.Name, tag, s)
			}
			return v
		}
		f.min, f.max = num("min"), num("max")
		f.minLen, f.maxLen = integer("minLength"), integer("maxLength")
		f.minItems, f.maxItems = integer("minItems"), integer("maxItems")
		if p := sf.Tag.Get("pattern"); p != "" {
			f.patternSrc = p
			if f.pattern, err = regexp.Compile(p); err != nil {
				return nil, fmt.Errorf("%s.%s: pattern: %w", t, sf.Name, err)
			}
		}
		if err != nil {
			return nil, err
		}
		if f.def != "" {
			if f.required {
				return nil, fmt.Errorf("%s.%s: a required argument cannot have a default", t, sf.Name)
			}
			probe := reflect.New(t).Elem()
			if err := f.setDefault(probe.Field(i)); err != nil {
				return nil, fmt.Errorf("%s.%s: default %q: %w", t, sf.Name, f.def, err)
			}
			if err := f.check(probe.Field(i)); err != nil {
				return nil, fmt.Errorf("%s.%s: default fails its own checks: %w", t, sf.Name, err)
			}
		}
		sp.fields = append(sp.fields, f)
	}
	schema, err := sp.buildSchema()
	if err != nil {
		return nil, err
	}
	sp.schema = schema
	return sp, nil
}

func (f *argField) jsonType() string {
	switch f.kind {
	case reflect.String:
		return "string"
	case reflect.Int:
		return "integer"
	case reflect.Float64:
		return "number"
	case reflect.Bool:
		return "boolean"
	}
	return "array"
}

// buildSchema writes the JSON schema with properties in struct order, so
// snapshots are stable and the model reads arguments in a sensible order.
func (sp *argSpec) buildSchema() (json.RawMessage, error) {
	var b bytes.Buffer
	b.WriteString(`{"type":"object","properties":{`)
	var required []string
	for i, f := range sp.fields {
		if i > 0 {
			b.WriteByte(',')
		}
		name, _ := json.Marshal(f.name)
		b.Write(name)
		b.WriteByte(':')
		prop := orderedMap{}
		prop.add("type", f.jsonType())
		prop.add("description", f.desc)
		str := orderedMap{}
		target := &prop
		if f.kind == reflect.Slice {
			str.add("type", "string")
			target = &str
		}
		if len(f.enum) > 0 {
			target.add("enum", f.enum)
		}
		if f.minLen > 0 {
			target.add("minLength", f.minLen)
		}
		if f.maxLen > 0 {
			target.add("maxLength", f.maxLen)
		}
		if f.patternSrc != "" {
			target.add("pattern", f.patternSrc)
		}
		if f.kind == reflect.Slice {
			prop.add("items", str)
			if f.minItems > 0 {
				prop.add("minItems", f.minItems)
			}
			if f.maxItems > 0 {
				prop.add("maxItems", f.maxItems)
			}
		}
		if f.min != nil {
			prop.add("minimum", *f.min)
		}
		if f.max != nil {
			prop.add("maximum", *f.max)
		}
		if f.def != "" {
			v := reflect.New(sp.t).Elem().Field(f.index)
			_ = f.setDefault(v)
			prop.add("default", v.Interface())
		}
		pb, err := prop.MarshalJSON()
		if err != nil {
			return nil, err
		}
		b.Write(pb)
		if f.required {
			required = append(required, f.name)
		}
	}
	b.WriteString(`}`)
	// "required" is always present (possibly empty) so the schema reads the
	// same after clients decode and re-encode it.
	if required == nil {
		required = []string{}
	}
	rb, _ := json.Marshal(required)
	b.WriteString(`,"required":`)
	b.Write(rb)
	b.WriteString(`,"additionalProperties":false}`)
	return b.Bytes(), nil
}

type orderedMap struct {
	keys []string
	vals []any
}

func (m *orderedMap) add(k string, v any) { m.keys, m.vals = append(m.keys, k), append(m.vals, v) }

func (m orderedMap) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range m.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		vb, err := json.Marshal(m.vals[i])
		if err != nil {
			return nil, err
		}
		b.Write(vb)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func (f *argField) setDefault(v reflect.Value) error {
	switch f.kind {
	case reflect.String:
		v.SetString(f.def)
	case reflect.Int:
		n, err := strconv.Atoi(f.def)
		if err != nil {
			return err
		}
		v.SetInt(int64(n))
	case reflect.Float64:
		n, err := strconv.ParseFloat(f.def, 64)
		if err != nil {
			return err
		}
		v.SetFloat(n)
	case reflect.Bool:
		b, err := strconv.ParseBool(f.def)
		if err != nil {
			return err
		}
		v.SetBool(b)
	case reflect.Slice:
		v.Set(reflect.ValueOf(strings.Split(f.def, ",")))
	}
	return nil
}

// decode checks raw (a JSON object, or empty) against the spec and returns
// the arguments value. Every problem is reported, each naming the argument
// and what is allowed.
func (sp *argSpec) decode(raw json.RawMessage) (reflect.Value, error) {
	v := reflect.New(sp.t).Elem()
	var obj map[string]json.RawMessage
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) > 0 && !bytes.Equal(trimmed, []byte("null")) {
		if trimmed[0] != '{' {
			return v, errors.New("arguments must be a JSON object")
		}
		if err := json.Unmarshal(trimmed, &obj); err != nil {
			return v, errors.New("arguments are not valid JSON")
		}
	}
	var errs []error
	names := make([]string, len(sp.fields))
	for i, f := range sp.fields {
		names[i] = f.name
	}
	var unknown []string
	for k := range obj {
		if !slices.Contains(names, k) {
			unknown = append(unknown, k)
		}
	}
	slices.Sort(unknown)
	for _, k := range unknown {
		allowed := strings.Join(names, ", ")
		if allowed == "" {
			allowed = "none"
		}
		errs = append(errs, fmt.Errorf("unknown argument %q; allowed: %s", clean(k, 64), allowed))
	}
	for i := range sp.fields {
		f := &sp.fields[i]
		fv := v.Field(f.index)
		rv, present := obj[f.name]
		if present && bytes.Equal(bytes.TrimSpace(rv), []byte("null")) {
			present = false
		}
		if !present {
			if f.required {
				errs = append(errs, fmt.Errorf("%s: required (%s)", f.name, f.desc))
			} else if f.def != "" {
				_ = f.setDefault(fv)
			}
			continue
		}
		if err := json.Unmarshal(rv, fv.Addr().Interface()); err != nil {
			errs = append(errs, fmt.Errorf("%s: must be %s, got %s", f.name, f.typeWords(), jsonKind(rv)))
			continue
		}
		if err := f.check(fv); err != nil {
			errs = append(errs, err)
		}
	}
	return v, errors.Join(errs...)
}

func (f *argField) typeWords() string {
	switch f.kind {
	case reflect.String:
		return "a string"
	case reflect.Int:
		return "an integer"
	case reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	}
	return "a list of strings"
}

func jsonKind(raw json.RawMessage) string {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 {
		return "nothing"
	}
	switch t[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "a list"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "the number " + clean(string(t), 24)
}

// check validates a decoded value against the tags.
func (f *argField) check(v reflect.Value) error {
	switch f.kind {
	case reflect.Int, reflect.Float64:
		var x float64
		if f.kind == reflect.Int {
			x = float64(v.Int())
		} else {
			x = v.Float()
		}
		if (f.min != nil && x < *f.min) || (f.max != nil && x > *f.max) {
			return fmt.Errorf("%s: %s is out of range %s", f.name, fmtNum(x), f.rangeWords())
		}
	case reflect.String:
		return f.checkString(f.name, v.String())
	case reflect.Slice:
		n := v.Len()
		if f.minItems > 0 && n < f.minItems {
			return fmt.Errorf("%s: needs at least %d item(s), got %d", f.name, f.minItems, n)
		}
		if f.maxItems > 0 && n > f.maxItems {
			return fmt.Errorf("%s: %d items is over the limit of %d", f.name, n, f.maxItems)
		}
		var errs []error
		for i := range n {
			if err := f.checkString(fmt.Sprintf("%s[%d]", f.name, i), v.Index(i).String()); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}
	return nil
}

func (f *argField) checkString(name, s string) error {
	n := utf8.RuneCountInString(s)
	if f.minLen > 0 && n < f.minLen {
		if n == 0 {
			return fmt.Errorf("%s: must not be empty", name)
		}
		return fmt.Errorf("%s: %d characters is under the minimum of %d", name, n, f.minLen)
	}
	if f.maxLen > 0 && n > f.maxLen {
		return fmt.Errorf("%s: %d characters is over the limit of %d", name, n, f.maxLen)
	}
	if len(f.enum) > 0 && !slices.Contains(f.enum, s) {
		return fmt.Errorf("%s: %q is not one of %s", name, clean(s, 64), strings.Join(f.enum, ", "))
	}
	if f.pattern != nil && !f.pattern.MatchString(s) {
		if f.example != "" {
			return fmt.Errorf("%s: %q is not valid (expected something like %s)", name, clean(s, 64), f.example)
		}
		return fmt.Errorf("%s: %q does not match %s", name, clean(s, 64), f.patternSrc)
	}
	return nil
}

func (f *argField) rangeWords() string {
	switch {
	case f.min != nil && f.max != nil:
		return fmtNum(*f.min) + "–" + fmtNum(*f.max)
	case f.min != nil:
		return "≥ " + fmtNum(*f.min)
	}
	return "≤ " + fmtNum(*f.max)
}

func fmtNum(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }
