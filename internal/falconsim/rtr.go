package falconsim

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vulnpilot/vulnpilot/internal/fql"
)

// Real Time Response: sessions on managed hosts, read-only commands,
// active-responder commands that change a small simulated per-host state
// (processes, registry, files, services), and a few built-in runscript
// cloud files. Command output is complete on the second status poll, like a
// sensor answering shortly after the cloud queued the request.

type rtrTier int

const (
	tierRead rtrTier = iota
	tierWrite
	tierAdmin
)

func (t rtrTier) String() string {
	switch t {
	case tierWrite:
		return "active-responder"
	case tierAdmin:
		return "admin"
	}
	return "read-only"
}

// rtrCommands maps each simulated base command to the lowest tier allowed
// to run it.
var rtrCommands = map[string]rtrTier{
	"cat": tierRead, "cd": tierRead, "env": tierRead, "filehash": tierRead, "getsid": tierRead,
	"ipconfig": tierRead, "ifconfig": tierRead, "ls": tierRead, "netstat": tierRead, "ps": tierRead,
	"pwd": tierRead, "reg query": tierRead,
	"cp": tierWrite, "kill": tierWrite, "mkdir": tierWrite, "mv": tierWrite, "reg delete": tierWrite,
	"reg set": tierWrite, "rm": tierWrite, "runscript": tierWrite,
}

func allowedCommands(t rtrTier) string {
	var out []string
	for c, min := range rtrCommands {
		if min <= t {
			out = append(out, c)
		}
	}
	slices.Sort(out)
	return strings.Join(out, ", ")
}

type rtrSession struct {
	id, aid, client  string
	created, updated time.Time
	deleted          time.Time
	offlineQueued    bool
	pwd              string
	logs             []rtrLog
	cloudReqs        []string
}

type rtrLog struct {
	id                    int64
	base, cmd, cloudReqID string
	dir                   string
	at                    time.Time
}

type rtrCommand struct {
	id, session, base string
	stdout, stderr    string
	polls             int
	queued            bool
}

type rtrState struct {
	mu       sync.Mutex
	sessions map[string]*rtrSession
	order    []string
	commands map[string]*rtrCommand
	hosts    map[string]*hostState
	logSeq   int64
}

func newRTRState() *rtrState {
	return &rtrState{
		sessions: map[string]*rtrSession{},
		commands: map[string]*rtrCommand{},
		hosts:    map[string]*hostState{},
	}
}

func (s *Server) rtrHost(snap *snapshot, i int32) *hostState {
	aid := snap.hosts[i].h.AID
	st := s.rtr.hosts[aid]
	if st == nil {
		st = newHostState(snap, i)
		s.rtr.hosts[aid] = st
	}
	return st
}

func (s *Server) appendInitResponse(b []byte, sess *rtrSession, snap *snapshot, existing int) []byte {
	h := &snap.hosts[snap.hostByAID[sess.aid]].h
	o := beginObj(b)
	o.str("session_id", sess.id)
	o.time("created_at", sess.created.Unix())
	o.str("device_id", sess.aid)
	o.int("existing_aid_sessions", int64(existing))
	o.bool("offline_queued", sess.offlineQueued)
	o.str("platform", strings.ToLower(h.Platform))
	o.str("pwd", sess.pwd)
	prev := make([]string, 0, len(sess.logs))
	for _, l := range sess.logs {
		prev = append(prev, l.cmd)
	}
	o.strs("previous_commands", prev)
	o.key("scripts")
	o.b = append(o.b, "[]"...)
	return o.end()
}

type initBody struct {
	DeviceID     string `json:"device_id"`
	Origin       string `json:"origin"`
	QueueOffline bool   `json:"queue_offline"`
}

// handleRTRInit serves POST /real-time-response/entities/sessions/v1.
func (s *Server) handleRTRInit(c *call) {
	var body initBody
	if err := c.decodeBody(&body); err != nil {
		c.fail(http.StatusBadRequest, err.Error())
		return
	}
	s.rtrInit(c, body, false)
}

// handleRTRPulse serves POST /real-time-response/entities/refresh-session/v1.
func (s *Server) handleRTRPulse(c *call) {
	var body initBody
	if err := c.decodeBody(&body); err != nil {
		c.fail(http.StatusBadRequest, err.Error())
		return
	}
	s.rtrInit(c, body, true)
}

func (s *Server) rtrInit(c *call, body initBody, pulse bool) {
	if body.DeviceID == "" {
		c.fail(http.StatusBadRequest, "device_id is required")
		return
	}
	hi, ok := c.snap.hostByAID[body.DeviceID]
	if !ok {
		c.fail(http.StatusNotFound, "device "+quoteForMsg(body.DeviceID)+" not found")
		return
	}
	if !c.snap.hosts[hi].h.Managed {
		c.fail(http.StatusBadRequest, "device "+body.DeviceID+" has no Falcon sensor (unmanaged asset): Real Time Response needs a managed host")
		return
	}
	online := c.snap.online(hi)
	if !online && !body.QueueOffline {
		c.fail(http.StatusBadRequest, "device "+body.DeviceID+" is offline; set queue_offline to queue the session until it connects")
		return
	}
	now := s.clock().UTC()
	s.rtr.mu.Lock()
	var sess *rtrSession
	existing := 0
	for _, id := range s.rtr.order {
		x := s.rtr.sessions[id]
		if x.aid == body.DeviceID && x.deleted.IsZero() {
			existing++
			if x.client == c.client {
				sess = x
			}
		}
	}
	if sess == nil {
		if pulse {
			s.rtr.mu.Unlock()
			c.fail(http.StatusNotFound, "no active session on device "+body.DeviceID+" to refresh")
			return
		}
		st := s.rtrHost(c.snap, hi)
		sess = &rtrSession{id: s.traceID(), aid: body.DeviceID, client: c.client, created: now, updated: now, offlineQueued: !online, pwd: st.home}
		s.rtr.sessions[sess.id] = sess
		s.rtr.order = append(s.rtr.order, sess.id)
	} else {
		sess.updated = now
		existing--
	}
	b := append([]byte{'['}, s.appendInitResponse(nil, sess, c.snap, existing)...)
	s.rtr.mu.Unlock()
	b = append(b, ']')
	c.reply(http.StatusCreated, nil, nil, b, nil)
}

// session returns the calling client's live session; nil means an error
// was written.
func (s *Server) session(c *call, id string) *rtrSession {
	sess := s.rtr.sessions[id]
	if sess == nil || sess.client != c.client || !sess.deleted.IsZero() {
		c.fail(http.StatusBadRequest, "session "+quoteForMsg(id)+" not found or already closed")
		return nil
	}
	return sess
}

// handleRTRDelete serves DELETE /real-time-response/entities/sessions/v1.
func (s *Server) handleRTRDelete(c *call) {
	id := c.r.URL.Query().Get("session_id")
	if id == "" {
		c.fail(http.StatusBadRequest, "session_id is required")
		return
	}
	s.rtr.mu.Lock()
	sess := s.session(c, id)
	if sess != nil {
		sess.deleted = s.clock().UTC()
	}
	s.rtr.mu.Unlock()
	if sess == nil {
		return
	}
	trace := s.traceID()
	c.headers(trace)
	c.w.Header().Del("Content-Type")
	c.w.WriteHeader(http.StatusNoContent)
}

var rtrSessionSchema = fql.NewSchema(
	fql.Field{Name: "id"},
	fql.Field{Name: "device_id"},
	fql.Field{Name: "created_at", Kind: fql.Time, Range: true},
	fql.Field{Name: "updated_at", Kind: fql.Time, Range: true},
	fql.Field{Name: "deleted_at", Kind: fql.Time, Range: true},
)

type sessionRecord struct{ s *rtrSession }

func (r sessionRecord) Lookup(field int, dst []fql.Value) []fql.Value {
	switch field {
	case 0:
		return strVal(dst, r.s.id)
	case 1:
		return strVal(dst, r.s.aid)
	case 2:
		return timeVal(dst, r.s.created)
	case 3:
		return timeVal(dst, r.s.updated)
	case 4:
		return timeVal(dst, r.s.deleted)
	}
	return dst
}

// handleRTRListAll serves GET /real-time-response/queries/sessions/v1: the
// caller's session ids, newest first unless sorted.
func (s *Server) handleRTRListAll(c *call) {
	limit, offset, ok := c.offsetParams(5000)
	if !ok {
		return
	}
	q := c.r.URL.Query()
	f, err := fql.Compile(q.Get("filter"), rtrSessionSchema, s.clock())
	if err != nil {
		c.fail(http.StatusBadRequest, filterError(err))
		return
	}
	sortRaw := q.Get("sort")
	asc := false
	switch strings.ToLower(sortRaw) {
	case "", "created_at|desc", "created_at.desc", "date_created|desc", "date_created.desc":
	case "created_at|asc", "created_at.asc", "date_created|asc", "date_created.asc":
		asc = true
	default:
		c.fail(http.StatusBadRequest, "invalid sort "+quoteForMsg(sortRaw)+"; allowed: created_at|asc, created_at|desc")
		return
	}
	s.rtr.mu.Lock()
	var ids []string
	for _, id := range s.rtr.order {
		sess := s.rtr.sessions[id]
		if sess.client == c.client && f.Match(sessionRecord{sess}) {
			ids = append(ids, id)
		}
	}
	s.rtr.mu.Unlock()
	if !asc {
		slices.Reverse(ids)
	}
	replyIDPage(c, ids, limit, offset, func(id string) string { return id })
}

// handleRTRListSessions serves POST /real-time-response/entities/sessions/GET/v1.
func (s *Server) handleRTRListSessions(c *call) {
	var body struct {
		IDs []string `json:"ids"`
	}
	if err := c.decodeBody(&body); err != nil {
		c.fail(http.StatusBadRequest, err.Error())
		return
	}
	own := func(id string) (*rtrSession, bool) {
		sess := s.rtr.sessions[id]
		return sess, sess != nil && sess.client == c.client
	}
	s.rtr.mu.Lock()
	b, n := appendFound(body.IDs, own, func(b []byte, sess *rtrSession) []byte { return s.appendSession(b, sess, c.snap) })
	s.rtr.mu.Unlock()
	c.replyFound(b, n, "no sessions found for the given ids")
}

func (s *Server) appendSession(b []byte, sess *rtrSession, snap *snapshot) []byte {
	h := &snap.hosts[snap.hostByAID[sess.aid]].h
	o := beginObj(b)
	o.str("id", sess.id)
	o.str("cid", snap.cid)
	o.strs("cloud_request_ids", sess.cloudReqs)
	o.bool("commands_queued", sess.offlineQueued && len(sess.cloudReqs) > 0)
	o.time("created_at", sess.created.Unix())
	if sess.deleted.IsZero() {
		o.null("deleted_at")
	} else {
		o.time("deleted_at", sess.deleted.Unix())
	}
	o.str("device_id", sess.aid)
	o.float("duration", sess.updated.Sub(sess.created).Seconds())
	o.str("hostname", h.Hostname)
	o.key("logs")
	o.b = appendArray(o.b, sess.logs, func(b []byte, l rtrLog) []byte {
		lo := beginObj(b)
		lo.int("id", l.id)
		lo.str("session_id", sess.id)
		lo.str("base_command", l.base)
		lo.str("command_string", l.cmd)
		lo.str("cloud_request_id", l.cloudReqID)
		lo.str("current_directory", l.dir)
		lo.time("created_at", l.at.Unix())
		lo.time("updated_at", l.at.Unix())
		return lo.end()
	})
	o.bool("offline_queued", sess.offlineQueued)
	o.str("origin", "vulnpilot")
	o.str("platform_name", h.Platform)
	o.str("pwd", sess.pwd)
	o.time("updated_at", sess.updated.Unix())
	o.str("user_id", sess.client)
	o.str("user_uuid", digestHex("user", sess.client))
	return o.end()
}

type commandBody struct {
	BaseCommand   string `json:"base_command"`
	CommandString string `json:"command_string"`
	SessionID     string `json:"session_id"`
	DeviceID      string `json:"device_id"`
}

// handleRTRCommand serves the POST command endpoints of each tier.
func (s *Server) handleRTRCommand(tier rtrTier) func(*call) {
	return func(c *call) {
		var body commandBody
		if err := c.decodeBody(&body); err != nil {
			c.fail(http.StatusBadRequest, err.Error())
			return
		}
		if body.SessionID == "" || strings.TrimSpace(body.CommandString) == "" {
			c.fail(http.StatusBadRequest, "session_id and command_string are required")
			return
		}
		args := splitCommand(body.CommandString)
		base := args[0]
		name := base
		if base == "reg" && len(args) > 1 {
			name = "reg " + strings.ToLower(args[1])
		}
		if body.BaseCommand != "" && !strings.EqualFold(body.BaseCommand, base) {
			c.fail(http.StatusBadRequest, "base_command "+quoteForMsg(body.BaseCommand)+" does not match command_string, which starts with "+quoteForMsg(base))
			return
		}
		minTier, known := rtrCommands[name]
		if !known || minTier > tier {
			c.fail(http.StatusBadRequest, "command "+quoteForMsg(name)+" is not allowed on the "+tier.String()+" endpoint; allowed: "+allowedCommands(tier))
			return
		}
		s.rtr.mu.Lock()
		sess := s.session(c, body.SessionID)
		if sess == nil {
			s.rtr.mu.Unlock()
			return
		}
		snap := s.snap.Load()
		hi := snap.hostByAID[sess.aid]
		cmd := &rtrCommand{id: s.traceID(), session: sess.id, base: base, queued: sess.offlineQueued}
		if !cmd.queued {
			st := s.rtrHost(snap, hi)
			cmd.stdout, cmd.stderr = st.exec(sess, name, args)
		}
		s.rtr.commands[cmd.id] = cmd
		s.rtr.logSeq++
		now := s.clock().UTC()
		sess.logs = append(sess.logs, rtrLog{id: s.rtr.logSeq, base: base, cmd: body.CommandString, cloudReqID: cmd.id, dir: sess.pwd, at: now})
		sess.cloudReqs = append(sess.cloudReqs, cmd.id)
		sess.updated = now
		s.rtr.mu.Unlock()

		o := beginObj([]byte{'['})
		o.str("cloud_request_id", cmd.id)
		o.bool("queued_command_offline", cmd.queued)
		o.str("session_id", sess.id)
		b := append(o.end(), ']')
		c.reply(http.StatusCreated, nil, nil, b, nil)
	}
}

// handleRTRStatus serves the GET status endpoints of each tier.
func (s *Server) handleRTRStatus(tier rtrTier) func(*call) {
	return func(c *call) {
		q := c.r.URL.Query()
		id := q.Get("cloud_request_id")
		seq, err := strconv.ParseInt(q.Get("sequence_id"), 10, 64)
		if id == "" || err != nil || seq < 0 {
			c.fail(http.StatusBadRequest, "cloud_request_id and a non-negative integer sequence_id are required")
			return
		}
		s.rtr.mu.Lock()
		cmd := s.rtr.commands[id]
		var sess *rtrSession
		if cmd != nil {
			sess = s.rtr.sessions[cmd.session]
		}
		if cmd == nil || sess == nil || sess.client != c.client {
			s.rtr.mu.Unlock()
			c.fail(http.StatusNotFound, "cloud request "+quoteForMsg(id)+" not found")
			return
		}
		cmd.polls++
		complete := !cmd.queued && cmd.polls > 1
		stdout, stderr := "", ""
		if complete && seq == 0 {
			stdout, stderr = cmd.stdout, cmd.stderr
		}
		base := cmd.base
		s.rtr.mu.Unlock()

		o := beginObj([]byte{'['})
		o.str("base_command", base)
		o.bool("complete", complete)
		o.int("sequence_id", seq)
		o.str("session_id", sess.id)
		o.str("stderr", stderr)
		o.str("stdout", stdout)
		o.str("task_id", id)
		b := append(o.end(), ']')
		c.reply(http.StatusOK, nil, nil, b, nil)
	}
}

// splitCommand splits an RTR command line into words, honouring double and
// single quotes.
func splitCommand(s string) []string {
	var out []string
	var cur strings.Builder
	var quote rune
	inWord := false
	for _, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '"' || r == '\'':
			quote = r
			inWord = true
		case r == ' ' || r == '\t':
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		out = append(out, cur.String())
	}
	if len(out) == 0 {
		return []string{""}
	}
	out[0] = strings.ToLower(out[0])
	return out
}
