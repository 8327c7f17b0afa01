package falconsim

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/vulnpilot/vulnpilot/internal/fql"
)

// Hosts API filter fields (a subset of Falcon's device fields, the ones the
// tenant format carries).
const (
	dfDeviceID = iota
	dfCID
	dfHostname
	dfPlatform
	dfOSVersion
	dfProductType
	dfTags
	dfGroups
	dfLastSeen
	dfFirstSeen
	dfModified
	dfStatus
	dfLocalIP
	dfExternalIP
	dfDomain
	dfOU
	dfSite
	dfAgentVersion
	dfManufacturer
	dfSerial
	dfMAC
	dfKernel
	dfRFM
)

var deviceSchema = fql.NewSchema(
	fql.Field{Name: "device_id"},
	fql.Field{Name: "cid"},
	fql.Field{Name: "hostname", Wildcard: true},
	fql.Field{Name: "platform_name"},
	fql.Field{Name: "os_version"},
	fql.Field{Name: "product_type_desc"},
	fql.Field{Name: "tags"},
	fql.Field{Name: "groups"},
	fql.Field{Name: "last_seen", Kind: fql.Time, Range: true},
	fql.Field{Name: "first_seen", Kind: fql.Time, Range: true},
	fql.Field{Name: "modified_timestamp", Kind: fql.Time, Range: true},
	fql.Field{Name: "status"},
	fql.Field{Name: "local_ip", Wildcard: true},
	fql.Field{Name: "external_ip", Wildcard: true},
	fql.Field{Name: "machine_domain"},
	fql.Field{Name: "ou"},
	fql.Field{Name: "site_name"},
	fql.Field{Name: "agent_version"},
	fql.Field{Name: "system_manufacturer"},
	fql.Field{Name: "serial_number"},
	fql.Field{Name: "mac_address"},
	fql.Field{Name: "kernel_version"},
	fql.Field{Name: "reduced_functionality_mode"},
)

type deviceCursor struct {
	s *snapshot
	h int32 // index into s.hosts
}

func (c *deviceCursor) seek(p int32) { c.h = c.s.managed[p] }

func (c *deviceCursor) Lookup(field int, dst []fql.Value) []fql.Value {
	r := &c.s.hosts[c.h]
	h := &r.h
	switch field {
	case dfDeviceID:
		return strVal(dst, h.AID)
	case dfCID:
		return strVal(dst, c.s.cid)
	case dfHostname:
		return strVal(dst, h.Hostname)
	case dfPlatform:
		return strVal(dst, h.Platform)
	case dfOSVersion:
		return strVal(dst, h.OSVersion)
	case dfProductType:
		return strVal(dst, h.ProductTypeDesc)
	case dfTags:
		return strsVal(dst, h.Tags)
	case dfGroups:
		dst = strsVal(dst, r.groupIDs)
		return strsVal(dst, h.Groups)
	case dfLastSeen:
		return timeVal(dst, h.LastSeen)
	case dfFirstSeen:
		return timeVal(dst, h.FirstSeen)
	case dfModified:
		return append(dst, fql.Value{N: float64(r.modified)})
	case dfStatus:
		return strVal(dst, r.status)
	case dfLocalIP:
		return strVal(dst, h.LocalIP)
	case dfExternalIP:
		return strVal(dst, h.ExternalIP)
	case dfDomain:
		return strVal(dst, h.MachineDomain)
	case dfOU:
		return strsVal(dst, ouList(h.OU))
	case dfSite:
		return strVal(dst, h.SiteName)
	case dfAgentVersion:
		return strVal(dst, r.agentVersion)
	case dfManufacturer:
		return strVal(dst, r.systemManufacturer)
	case dfSerial:
		return strVal(dst, r.serial)
	case dfMAC:
		return strVal(dst, r.mac)
	case dfKernel:
		return strVal(dst, r.kernel)
	case dfRFM:
		return strVal(dst, "no")
	}
	return dst
}

func timeVal(dst []fql.Value, t time.Time) []fql.Value {
	if t.IsZero() {
		return dst
	}
	return append(dst, fql.Value{N: float64(t.Unix())})
}

// ouList turns "OU=Servers,OU=Prod,DC=corp,DC=example" into Falcon's ou list
// (["Servers","Prod"]); a plain name stays one entry.
func ouList(ou string) []string {
	if ou == "" {
		return nil
	}
	if !strings.Contains(strings.ToUpper(ou), "OU=") {
		return []string{ou}
	}
	var out []string
	for _, part := range strings.Split(ou, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if ok && strings.EqualFold(k, "OU") {
			out = append(out, v)
		}
	}
	return out
}

func hostSortStr(get func(r *hostRec) string) sortKeyFunc {
	return sortKeyFunc{str: true, key: func(s *snapshot, p int32) sortKey { return sortKey{s: get(&s.hosts[s.managed[p]])} }}
}

func hostSortTime(get func(r *hostRec) int64) sortKeyFunc {
	return sortKeyFunc{key: func(s *snapshot, p int32) sortKey { return sortKey{n: float64(get(&s.hosts[s.managed[p]]))} }}
}

var devicesCollection = &collection{
	name:   "devices",
	schema: deviceSchema,
	size:   func(s *snapshot) int { return len(s.managed) },
	rec:    func(s *snapshot) recordCursor { return &deviceCursor{s: s} },
	sorts: map[string]sortKeyFunc{
		"hostname":           hostSortStr(func(r *hostRec) string { return r.h.Hostname }),
		"device_id":          hostSortStr(func(r *hostRec) string { return r.h.AID }),
		"status":             hostSortStr(func(r *hostRec) string { return r.status }),
		"platform_name":      hostSortStr(func(r *hostRec) string { return r.h.Platform }),
		"local_ip":           hostSortStr(func(r *hostRec) string { return r.h.LocalIP }),
		"last_seen":          hostSortTime(func(r *hostRec) int64 { return unixOrZero(r.h.LastSeen) }),
		"first_seen":         hostSortTime(func(r *hostRec) int64 { return unixOrZero(r.h.FirstSeen) }),
		"modified_timestamp": hostSortTime(func(r *hostRec) int64 { return r.modified }),
	},
}

func platformID(p string) string {
	switch p {
	case "Mac":
		return "1"
	case "Linux":
		return "3"
	}
	return "0"
}

func productType(desc string) string {
	switch desc {
	case "Workstation":
		return "1"
	case "Domain Controller":
		return "2"
	case "Server":
		return "3"
	}
	return ""
}

// appendDevice renders host i as deviceapi.DeviceSwagger.
func (s *snapshot) appendDevice(b []byte, i int32) []byte {
	r := &s.hosts[i]
	h := &r.h
	o := beginObj(b)
	o.str("device_id", h.AID)
	o.str("cid", s.cid)
	o.str("agent_load_flags", "0")
	o.str("agent_version", r.agentVersion)
	o.str("bios_manufacturer", r.systemManufacturer)
	o.str("bios_version", "1.0."+r.serial[:2])
	o.str("config_id_base", "65994763")
	o.str("config_id_build", strings.Split(r.agentVersion, ".")[2])
	o.str("config_id_platform", platformID(h.Platform))
	o.strOmit("connection_ip", h.LocalIP)
	o.strOmit("external_ip", h.ExternalIP)
	o.str("mac_address", r.mac)
	o.str("hostname", h.Hostname)
	if v := unixOrZero(h.FirstSeen); v != 0 {
		o.time("first_seen", v)
	}
	if v := unixOrZero(h.LastSeen); v != 0 {
		o.time("last_seen", v)
	}
	o.strOmit("local_ip", h.LocalIP)
	o.strOmit("machine_domain", h.MachineDomain)
	o.strOmit("os_version", h.OSVersion)
	o.str("kernel_version", r.kernel)
	o.strs("ou", ouList(h.OU))
	o.str("platform_id", platformID(h.Platform))
	o.str("platform_name", h.Platform)
	o.key("policies")
	o.b = append(o.b, "[]"...)
	o.strOmit("product_type", productType(h.ProductTypeDesc))
	o.strOmit("product_type_desc", h.ProductTypeDesc)
	o.str("provision_status", "Provisioned")
	o.str("reduced_functionality_mode", "no")
	o.str("serial_number", r.serial)
	o.strOmit("site_name", h.SiteName)
	o.str("status", r.status)
	o.str("system_manufacturer", r.systemManufacturer)
	o.str("system_product_name", r.systemProduct)
	o.strs("tags", h.Tags)
	o.strs("groups", r.groupIDs)
	o.time("modified_timestamp", r.modified)
	return o.end()
}

// handleQueryDevices serves GET /devices/queries/devices/v1.
func (s *Server) handleQueryDevices(c *call) {
	q := c.r.URL.Query()
	order, limit, offset, ok := c.offsetQuery(devicesCollection, 5000, q.Get("sort"), q.Get("filter"))
	if !ok {
		return
	}
	replyIDPage(c, order, limit, offset, func(p int32) string { return c.snap.hosts[c.snap.managed[p]].h.AID })
}

// managedHost resolves a device id the Hosts API knows (managed hosts only).
func (s *snapshot) managedHost(aid string) (int32, bool) {
	i, ok := s.hostByAID[aid]
	if !ok || !s.hosts[i].h.Managed {
		return 0, false
	}
	return i, true
}

func (s *Server) replyDevices(c *call, ids []string) {
	if len(ids) == 0 {
		c.fail(http.StatusBadRequest, "ids is required: give one or more device ids")
		return
	}
	if len(ids) > 5000 {
		c.fail(http.StatusBadRequest, "too many ids: at most 5000 device ids are allowed per request")
		return
	}
	var pending []int32
	b, n := appendFound(ids, c.snap.managedHost, func(b []byte, i int32) []byte {
		if strings.HasSuffix(c.snap.hosts[i].status, "_pending") {
			pending = append(pending, i)
		}
		return c.snap.appendDevice(b, i)
	})
	c.replyFound(b, n, "no devices found for the given ids")
	// A containment change is pending until the sensor acknowledges it;
	// the simulated sensor does so once the pending state has been seen.
	for _, i := range pending {
		s.completePending(i)
	}
}

// handleGetDevices serves GET /devices/entities/devices/v2.
func (s *Server) handleGetDevices(c *call) { s.replyDevices(c, queryIDs(c.r.URL.Query()["ids"])) }

// handlePostDevices serves POST /devices/entities/devices/v2.
func (s *Server) handlePostDevices(c *call) {
	var body struct {
		IDs []string `json:"ids"`
	}
	if err := c.decodeBody(&body); err != nil {
		c.fail(http.StatusBadRequest, err.Error())
		return
	}
	s.replyDevices(c, body.IDs)
}

func (s *Server) completePending(i int32) {
	s.mutate(func(cur *snapshot) *snapshot {
		next := ""
		switch cur.hosts[i].status {
		case "containment_pending":
			next = "contained"
		case "lift_containment_pending":
			next = "normal"
		default:
			return nil
		}
		return cur.withHostStatus(i, next, s.clock().Unix())
	})
}

// handleDeviceAction serves POST /devices/entities/devices-actions/v2
// (action_name contain | lift_containment).
func (s *Server) handleDeviceAction(c *call) {
	action := c.r.URL.Query().Get("action_name")
	var from, to string
	switch action {
	case "contain":
		from, to = "normal", "containment_pending"
	case "lift_containment":
		from, to = "contained", "lift_containment_pending"
	default:
		c.fail(http.StatusBadRequest, "invalid action_name "+quoteForMsg(action)+"; allowed: contain, lift_containment")
		return
	}
	var body struct {
		IDs []string `json:"ids"`
	}
	if err := c.decodeBody(&body); err != nil {
		c.fail(http.StatusBadRequest, err.Error())
		return
	}
	if len(body.IDs) == 0 || len(body.IDs) > 100 {
		c.fail(http.StatusBadRequest, "ids must list between 1 and 100 device ids")
		return
	}
	var errs []apiError
	var done []string
	s.mutate(func(cur *snapshot) *snapshot {
		next := cur
		for _, id := range body.IDs {
			i, ok := next.managedHost(id)
			if !ok {
				errs = append(errs, apiError{code: http.StatusNotFound, msg: "device " + quoteForMsg(id) + " not found", id: id})
				continue
			}
			if st := next.hosts[i].status; st != from {
				errs = append(errs, apiError{code: http.StatusConflict, msg: "cannot " + action + " device " + id + ": its status is " + st, id: id})
				continue
			}
			next = next.withHostStatus(i, to, s.clock().Unix())
			done = append(done, id)
		}
		if next == cur {
			return nil
		}
		return next
	})
	res := []byte{'['}
	for k, id := range done {
		if k > 0 {
			res = append(res, ',')
		}
		o := beginObj(res)
		o.str("id", id)
		o.str("path", "")
		res = o.end()
	}
	res = append(res, ']')
	writes := []byte(`{"resources_affected":` + itoa(len(done)) + `}`)
	status := http.StatusAccepted
	if len(done) == 0 {
		status = http.StatusConflict
		if len(errs) > 0 && errs[0].code == http.StatusNotFound {
			status = http.StatusBadRequest
		}
	}
	c.reply(status, nil, writes, res, errs)
}

// onlineWindow is how recently a host must have been seen (relative to the
// tenant's present) to count as online.
const onlineWindow = 24 * time.Hour

func (s *snapshot) online(i int32) bool {
	h := &s.hosts[i].h
	return h.Managed && !h.LastSeen.IsZero() && s.now.Sub(h.LastSeen) <= onlineWindow
}

// handleOnlineState serves GET /devices/entities/online-state/v1.
func (s *Server) handleOnlineState(c *call) {
	ids, ok := c.idsParam(100)
	if !ok {
		return
	}
	b, n := appendFound(ids, c.snap.managedHost, func(b []byte, i int32) []byte {
		h := &c.snap.hosts[i].h
		o := beginObj(b)
		o.str("id", h.AID) // the requested id: managedHost found i by it
		o.str("cid", c.snap.cid)
		state := "offline"
		if c.snap.online(i) {
			state = "online"
		}
		o.str("state", state)
		if v := unixOrZero(h.LastSeen); v != 0 {
			o.time("last_seen", v)
		}
		return o.end()
	})
	c.replyFound(b, n, "no devices found for the given ids")
}

func itoa(n int) string { return strconv.Itoa(n) }
