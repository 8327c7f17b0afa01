// Package prompts holds vulnpilot's prompt texts as embedded, versioned
// files: the MCP prompts offered to clients (mcp/<name>.v<version>.md, a
// YAML header then a text/template body). Changing a prompt's meaning means
// a new version file, so evals and transcripts can name what they used.
package prompts

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"text/template"
	"unicode"

	"gopkg.in/yaml.v3"
)

//go:embed mcp/*.md guides/*.md
var files embed.FS

// Arg is one prompt argument.
type Arg struct {
	Name        string   `yaml:"name"`
	Description string   `yaml:"description"`
	Required    bool     `yaml:"required"`
	Pattern     string   `yaml:"pattern"`
	Enum        []string `yaml:"enum"`
	Default     string   `yaml:"default"`

	re *regexp.Regexp
}

// Prompt is one MCP prompt.
type Prompt struct {
	Name        string `yaml:"name"`
	Version     int    `yaml:"version"`
	Title       string `yaml:"title"`
	Description string `yaml:"description"`
	Args        []Arg  `yaml:"arguments"`
	File        string `yaml:"-"`

	body *template.Template
}

// MaxArgLen bounds an argument value.
const MaxArgLen = 1000

var loadMCP = sync.OnceValues(func() ([]Prompt, error) { return parseDir(files, "mcp") })

// MCP returns the MCP prompts: for each name, the highest version.
func MCP() ([]Prompt, error) {
	ps, err := loadMCP()
	return slices.Clone(ps), err
}

// Guide returns the latest version of guides/<name>.v<N>.md and its file
// name, e.g. Guide("fql").
func Guide(name string) (text, file string, err error) {
	entries, err := fs.ReadDir(files, "guides")
	if err != nil {
		return "", "", err
	}
	best := -1
	for _, e := range entries {
		m := fileName.FindStringSubmatch(e.Name())
		if m == nil || m[1] != name {
			continue
		}
		var v int
		fmt.Sscan(m[2], &v)
		if v > best {
			best, file = v, e.Name()
		}
	}
	if best < 0 {
		return "", "", fmt.Errorf("prompts: no guide %q", name)
	}
	b, err := fs.ReadFile(files, path.Join("guides", file))
	return string(b), file, err
}

var fileName = regexp.MustCompile(`^([a-z0-9_]+)\.v([0-9]+)\.md$`)

func parseDir(fsys fs.FS, dir string) ([]Prompt, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	latest := map[string]Prompt{}
	for _, e := range entries {
		m := fileName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("prompts: %s: file names are <name>.v<version>.md", e.Name())
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		p, err := parse(e.Name(), b)
		if err != nil {
			return nil, err
		}
		if p.Name != m[1] || fmt.Sprint(p.Version) != m[2] {
			return nil, fmt.Errorf("prompts: %s: header says %s v%d", e.Name(), p.Name, p.Version)
		}
		if cur, ok := latest[p.Name]; !ok || p.Version > cur.Version {
			latest[p.Name] = p
		}
	}
	out := make([]Prompt, 0, len(latest))
	for _, p := range latest {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func parse(file string, b []byte) (Prompt, error) {
	var p Prompt
	rest, ok := bytes.CutPrefix(b, []byte("---\n"))
	if !ok {
		return p, fmt.Errorf("prompts: %s: no --- header", file)
	}
	head, body, ok := bytes.Cut(rest, []byte("\n---\n"))
	if !ok {
		return p, fmt.Errorf("prompts: %s: header not closed by ---", file)
	}
	dec := yaml.NewDecoder(bytes.NewReader(head))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil {
		return p, fmt.Errorf("prompts: %s: header: %w", file, err)
	}
	if p.Name == "" || p.Version < 1 || p.Description == "" || p.Title == "" {
		return p, fmt.Errorf("prompts: %s: name, version, title and description are required", file)
	}
	for i := range p.Args {
		a := &p.Args[i]
		if a.Pattern != "" {
			re, err := regexp.Compile(a.Pattern)
			if err != nil {
				return p, fmt.Errorf("prompts: %s: argument %s: %w", file, a.Name, err)
			}
			a.re = re
		}
	}
	t, err := template.New(file).Option("missingkey=error").Parse(string(body))
	if err != nil {
		return p, fmt.Errorf("prompts: %s: %w", file, err)
	}
	p.File, p.body = file, t
	return p, nil
}

// Render fills the prompt with args. Unknown, missing or malformed
// arguments are errors that say what is allowed. Values are single-line
// text: control characters are refused rather than passed to a model.
func (p Prompt) Render(args map[string]string) (string, error) {
	var errs []error
	names := make([]string, len(p.Args))
	for i, a := range p.Args {
		names[i] = a.Name
	}
	var unknown []string
	for k := range args {
		if !slices.Contains(names, k) {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		errs = append(errs, fmt.Errorf("unknown argument %q; %s takes: %s", k, p.Name, strings.Join(names, ", ")))
	}
	data := map[string]string{}
	for _, a := range p.Args {
		v := strings.TrimSpace(args[a.Name])
		if v == "" {
			if a.Required {
				errs = append(errs, fmt.Errorf("%s: required (%s)", a.Name, a.Description))
			}
			data[a.Name] = a.Default
			continue
		}
		switch {
		case len(v) > MaxArgLen:
			errs = append(errs, fmt.Errorf("%s: %d bytes is over the limit of %d", a.Name, len(v), MaxArgLen))
		case strings.ContainsFunc(v, func(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) }):
			errs = append(errs, fmt.Errorf("%s: control characters are not allowed", a.Name))
		case len(a.Enum) > 0 && !slices.Contains(a.Enum, v):
			errs = append(errs, fmt.Errorf("%s: %q is not one of %s", a.Name, v, strings.Join(a.Enum, ", ")))
		case a.re != nil && !a.re.MatchString(v):
			errs = append(errs, fmt.Errorf("%s: %q does not match %s", a.Name, v, a.Pattern))
		case strings.Contains(v, "`"):
			errs = append(errs, fmt.Errorf("%s: backquotes are not allowed (the value is quoted with them)", a.Name))
		}
		data[a.Name] = v
	}
	if len(errs) > 0 {
		return "", errors.Join(errs...)
	}
	var b strings.Builder
	if err := p.body.Execute(&b, data); err != nil {
		return "", fmt.Errorf("prompts: %s: %w", p.File, err)
	}
	return strings.TrimSpace(b.String()), nil
}
