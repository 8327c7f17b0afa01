package fql_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/vulnpilot/vulnpilot/internal/fql"
)

func ExampleBuild() {
	hostname := `web'01+cve.id:'CVE-1` // untrusted: stays one value
	s, err := fql.Build(fql.And(
		fql.In("status", "open", "reopen"),
		fql.Cmp("cve.base_score", ">=", 7),
		fql.Or(fql.Eq("host_info.hostname", hostname), fql.Match("host_info.tags", "FalconGroupingTags/bu-*")),
	))
	fmt.Println(s, err)

	_, err = fql.Build(fql.Eq("Host.Name", "x"))
	fmt.Println(err)
	// Output:
	// status:['open','reopen']+cve.base_score:>=7+(host_info.hostname:'web\'01+cve.id:\'CVE-1',host_info.tags:'FalconGroupingTags/bu-*') <nil>
	// FQL field "Host.Name" is not a valid field name (must match ^[a-z_][a-z0-9_.]*$)
}

type finding struct {
	status string
	score  float64
	tags   []string
}

// Lookup follows the schema order below.
func (f *finding) Lookup(i int, dst []fql.Value) []fql.Value {
	switch i {
	case 0:
		return append(dst, fql.Value{S: f.status})
	case 1:
		return append(dst, fql.Value{N: f.score})
	case 2:
		for _, t := range f.tags {
			dst = append(dst, fql.Value{S: t})
		}
	}
	return dst
}

func ExampleCompile() {
	schema := fql.NewSchema(
		fql.Field{Name: "status", Kind: fql.String},
		fql.Field{Name: "cve.base_score", Kind: fql.Number, Range: true},
		fql.Field{Name: "host_info.tags", Kind: fql.String, Wildcard: true},
	)
	f, err := fql.Compile(`status:open,status:reopen+cve.base_score:>=7`, schema, time.Now())
	if err != nil {
		panic(err)
	}
	fmt.Println(f.String())
	fmt.Println(f.Match(&finding{status: "reopen", score: 9.1}))
	fmt.Println(f.Match(&finding{status: "reopen", score: 5}))

	_, err = fql.Compile(`status:>'a'`, schema, time.Now())
	var fe *fql.FieldError
	fmt.Println(errors.As(err, &fe), err)
	// Output:
	// (status:'open',status:'reopen'+cve.base_score:>=7)
	// true
	// false
	// true FQL field "status" does not support range comparisons; fields that do: cve.base_score
}
