package tools

import (
	"errors"
	"strings"
	"time"

	"github.com/vulnpilot/vulnpilot/internal/falcon"
	"github.com/vulnpilot/vulnpilot/internal/fql"
)

// User-written FQL is checked before it reaches Falcon: the field names come
// from the falcon package's endpoint table (the fields each API accepts), the
// kinds below decide which operators and values make sense. A filter that
// passes can still be refused by Falcon; its 400 then comes back with
// Falcon's own hint.

var timeFields = map[string]bool{
	"created_timestamp": true, "updated_timestamp": true, "closed_timestamp": true, "data_providers.scan_time": true,
	"first_seen": true, "last_seen": true, "modified_timestamp": true, "last_login_timestamp": true,
	"crawled_timestamp": true, "timestamp": true, "publish_date": true,
}

var numberFields = map[string]bool{
	"cve.base_score": true, "cve.exploit_status": true, "cve.exploit_status_to_include": true, "last_seen_within": true,
	"services.port": true, "severity": true, "confidence": true, "cvss_v3_base.score": true,
}

var boolFields = map[string]bool{
	"cve.is_cisa_kev": true, "suppression_info.is_suppressed": true, "host_info.has_run_container": true,
	"email_sent": true, "show_in_ui": true,
}

func falconSchema(op string) *fql.Schema {
	var fields []fql.Field
	for _, name := range falcon.FilterFields(op) {
		f := fql.Field{Name: name, Kind: fql.String, Wildcard: true}
		switch {
		case timeFields[name]:
			f = fql.Field{Name: name, Kind: fql.Time, Range: true}
		case numberFields[name]:
			f = fql.Field{Name: name, Kind: fql.Number, Range: true}
		case boolFields[name]:
			f = fql.Field{Name: name, Kind: fql.Bool}
		}
		fields = append(fields, f)
	}
	return fql.NewSchema(fields...)
}

var (
	spotlightSchema = falconSchema(falcon.OpCombinedFindings)
	hostsSchema     = falconSchema(falcon.OpQueryHosts)
	alertsSchema    = falconSchema(falcon.OpQueryAlerts)
)

// checkFQL validates a user filter against schema and returns it trimmed.
// The filter is sent as the user wrote it (after this check) so that Falcon
// resolves relative times such as now-7d on its own clock.
func checkFQL(arg, filter string, schema *fql.Schema) (string, error) {
	filter = strings.TrimSpace(filter)
	if filter == "" {
		return "", nil
	}
	if _, err := fql.Compile(filter, schema, time.Now()); err != nil {
		return "", fqlError(arg, err)
	}
	return filter, nil
}

// fqlError words an FQL error for the model: what is wrong, what is
// allowed, and where to read more.
func fqlError(arg string, err error) error {
	var se *fql.SyntaxError
	msg := err.Error()
	if errors.As(err, &se) {
		msg += " (FQL: field:value, + for AND, , for OR, quotes around strings; see the vulnpilot://guide/fql resource)"
	}
	return invalidArgs("%s: %s", arg, msg)
}
