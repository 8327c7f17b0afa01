package falconsim

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// hostState is the simulated inside of one host that RTR commands read and
// change. It is generated deterministically from the host and the products
// its findings name, so every run of a tenant starts from the same state.
type hostState struct {
	windows bool
	aid     string
	home    string
	procs   []proc
	nextPID int
	// registry keys by canonical (upper-case) path; Windows only
	reg map[string]*regKey
	// files and directories by canonical path (lower-case on Windows)
	files map[string]*fileEnt
	env   [][2]string
	ip    string
	// services by lower-case name; Windows services mirror a registry key
	services map[string]*service
}

type proc struct {
	pid        int
	name, path string
}

type regKey struct {
	path   string
	values map[string]regValue // by upper-case name
}

type regValue struct {
	name, typ, data string
}

type fileEnt struct {
	path    string
	dir     bool
	content string
}

type service struct {
	name, display, proc string
	running             bool
}

const (
	svcPolicyKey = `HKLM\SYSTEM\CurrentControlSet\Services\`
	smbParamsKey = `HKLM\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters`
)

func newHostState(snap *snapshot, hi int32) *hostState {
	h := &snap.hosts[hi].h
	st := &hostState{
		windows:  h.Platform == "Windows" || h.Platform == "",
		aid:      h.AID,
		reg:      map[string]*regKey{},
		files:    map[string]*fileEnt{},
		services: map[string]*service{},
		nextPID:  1000 + int(digestHex("pid", h.AID)[0])%500,
		ip:       h.LocalIP,
	}
	var products []string
	for i := range snap.findings {
		f := &snap.findings[i]
		if f.host == hi {
			if p := snap.str(f.product); p != "" && !slices.Contains(products, p) {
				products = append(products, p)
			}
		}
	}
	slices.Sort(products)
	if st.windows {
		st.home = `C:\`
		for _, d := range []string{`C:\`, `C:\Windows`, `C:\Windows\System32`, `C:\Windows\System32\drivers`, `C:\Windows\System32\drivers\etc`, `C:\Program Files`, `C:\Users`, `C:\Users\Public`, `C:\Windows\Temp`} {
			st.addFile(d, true, "")
		}
		st.addFile(`C:\Windows\System32\drivers\etc\hosts`, false, "127.0.0.1 localhost\r\n::1 localhost\r\n")
		st.addProc("System", "")
		for _, p := range []string{"smss.exe", "csrss.exe", "wininit.exe", "services.exe", "lsass.exe", "svchost.exe", "svchost.exe", "CSFalconService.exe"} {
			st.addProc(p, `C:\Windows\System32\`+p)
		}
		st.addService("Spooler", "Print Spooler", "spoolsv.exe")
		st.addService("LanmanServer", "Server", "")
		st.addService("W3SVC", "World Wide Web Publishing Service", "w3wp.exe")
		st.setReg(smbParamsKey, "SMB1", "REG_DWORD", "1")
		st.setReg(`HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion`, "ProductName", "REG_SZ", h.OSVersion)
		st.setReg(`HKLM\SYSTEM\CurrentControlSet\Control\SecurityProviders\SCHANNEL\Protocols\TLS 1.0\Server`, "Enabled", "REG_DWORD", "1")
		for _, p := range products {
			dir := `C:\Program Files\` + p
			exe := strings.ToLower(strings.ReplaceAll(p, " ", "")) + ".exe"
			st.addFile(dir, true, "")
			st.addFile(dir+`\`+exe, false, "MZ simulated binary of "+p)
			st.addProc(exe, dir+`\`+exe)
		}
		st.env = [][2]string{{"COMPUTERNAME", strings.ToUpper(h.Hostname)}, {"OS", "Windows_NT"}, {"SystemRoot", `C:\Windows`}, {"PROCESSOR_ARCHITECTURE", "AMD64"}}
	} else {
		st.home = "/"
		for _, d := range []string{"/", "/etc", "/tmp", "/usr", "/usr/bin", "/var", "/var/log", "/opt"} {
			st.addFile(d, true, "")
		}
		st.addFile("/etc/hosts", false, "127.0.0.1 localhost\n")
		st.addFile("/etc/os-release", false, "PRETTY_NAME=\""+h.OSVersion+"\"\n")
		for _, p := range []string{"systemd", "sshd", "cron", "falcon-sensor"} {
			st.addProc(p, "/usr/sbin/"+p)
		}
		st.addService("sshd", "OpenSSH server", "sshd")
		st.addService("cups", "CUPS print service", "cupsd")
		for _, p := range products {
			bin := strings.ToLower(strings.ReplaceAll(p, " ", "-"))
			dir := "/opt/" + bin
			st.addFile(dir, true, "")
			st.addFile(dir+"/"+bin, false, "\x7fELF simulated binary of "+p)
			st.addProc(bin, dir+"/"+bin)
		}
		st.env = [][2]string{{"HOSTNAME", h.Hostname}, {"PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin"}, {"SHELL", "/bin/bash"}}
	}
	return st
}

func (st *hostState) canon(p string) string {
	if st.windows {
		p = strings.ReplaceAll(p, "/", `\`)
		if len(p) > 3 {
			p = strings.TrimRight(p, `\`)
		}
		return strings.ToLower(p)
	}
	if len(p) > 1 {
		p = strings.TrimRight(p, "/")
	}
	return p
}

func (st *hostState) sep() string {
	if st.windows {
		return `\`
	}
	return "/"
}

// abs resolves p against the session's working directory.
func (st *hostState) abs(pwd, p string) string {
	if p == "" {
		return pwd
	}
	if st.windows {
		if len(p) >= 2 && p[1] == ':' {
			return p
		}
	} else if strings.HasPrefix(p, "/") {
		return p
	}
	if strings.HasSuffix(pwd, st.sep()) {
		return pwd + p
	}
	return pwd + st.sep() + p
}

func (st *hostState) parent(p string) string {
	i := strings.LastIndex(p, st.sep())
	switch {
	case i < 0:
		return ""
	case st.windows && i == 2:
		return p[:3]
	case !st.windows && i == 0:
		return "/"
	}
	return p[:i]
}

func (st *hostState) addFile(p string, dir bool, content string) {
	st.files[st.canon(p)] = &fileEnt{path: p, dir: dir, content: content}
}

func (st *hostState) addProc(name, path string) int {
	pid := 4
	if name != "System" {
		st.nextPID += 4 + len(name)%7
		pid = st.nextPID
	}
	st.procs = append(st.procs, proc{pid: pid, name: name, path: path})
	return pid
}

func (st *hostState) addService(name, display, procName string) {
	sv := &service{name: name, display: display, proc: procName, running: true}
	st.services[strings.ToLower(name)] = sv
	if procName != "" {
		path := procName
		if st.windows {
			path = `C:\Windows\System32\` + procName
		} else {
			path = "/usr/sbin/" + procName
		}
		st.addProc(procName, path)
	}
	if st.windows {
		st.setReg(svcPolicyKey+name, "Start", "REG_DWORD", "2")
		st.setReg(svcPolicyKey+name, "DisplayName", "REG_SZ", display)
	}
}

func (st *hostState) setReg(key, name, typ, data string) {
	k := st.reg[strings.ToUpper(key)]
	if k == nil {
		k = &regKey{path: key, values: map[string]regValue{}}
		st.reg[strings.ToUpper(key)] = k
	}
	if name != "" {
		k.values[strings.ToUpper(name)] = regValue{name: name, typ: typ, data: data}
	}
}

// normKey accepts the long hive names too.
func normKey(k string) string {
	for long, short := range map[string]string{"HKEY_LOCAL_MACHINE": "HKLM", "HKEY_CURRENT_USER": "HKCU", "HKEY_USERS": "HKU"} {
		if strings.HasPrefix(strings.ToUpper(k), long) {
			return short + k[len(long):]
		}
	}
	return strings.TrimRight(k, `\`)
}

// flagArgs splits -Name=Value style arguments from positional ones.
func flagArgs(args []string) (pos []string, flags map[string]string) {
	flags = map[string]string{}
	for _, a := range args {
		if strings.HasPrefix(a, "-") {
			k, v, _ := strings.Cut(a[1:], "=")
			flags[strings.ToLower(k)] = v
			continue
		}
		pos = append(pos, a)
	}
	return pos, flags
}

// exec runs one command against the host state and returns stdout, stderr.
func (st *hostState) exec(sess *rtrSession, name string, args []string) (string, string) {
	rest := args[1:]
	if strings.HasPrefix(name, "reg ") {
		if !st.windows {
			return "", "reg: the registry exists only on Windows hosts"
		}
		rest = args[2:]
	}
	pos, flags := flagArgs(rest)
	arg := func(i int) string {
		if i < len(pos) {
			return pos[i]
		}
		return ""
	}
	switch name {
	case "pwd":
		return sess.pwd + "\n", ""
	case "cd":
		p := st.abs(sess.pwd, arg(0))
		f := st.files[st.canon(p)]
		if f == nil || !f.dir {
			return "", "cd: cannot find path " + p
		}
		sess.pwd = f.path
		return f.path + "\n", ""
	case "ls":
		return st.ls(st.abs(sess.pwd, arg(0)))
	case "cat":
		f := st.files[st.canon(st.abs(sess.pwd, arg(0)))]
		if f == nil || f.dir {
			return "", "cat: no such file " + arg(0)
		}
		return f.content, ""
	case "filehash":
		f := st.files[st.canon(st.abs(sess.pwd, arg(0)))]
		if f == nil || f.dir {
			return "", "filehash: no such file " + arg(0)
		}
		sh := sha256.Sum256([]byte(f.content))
		md := md5.Sum([]byte(f.content))
		return fmt.Sprintf("Path: %s\nSHA256: %s\nMD5: %s\n", f.path, strings.ToUpper(hex.EncodeToString(sh[:])), strings.ToUpper(hex.EncodeToString(md[:]))), ""
	case "ps":
		var b strings.Builder
		fmt.Fprintf(&b, "%-28s %8s  %s\n", "Name", "PID", "FilePath")
		for _, p := range st.procs {
			fmt.Fprintf(&b, "%-28s %8d  %s\n", p.name, p.pid, p.path)
		}
		return b.String(), ""
	case "netstat":
		var b strings.Builder
		fmt.Fprintf(&b, "%-6s %-24s %-24s %-12s %s\n", "Proto", "Local Address", "Foreign Address", "State", "PID")
		for _, p := range st.procs {
			port := 0
			switch strings.ToLower(p.name) {
			case "lsass.exe":
				port = 49664
			case "w3wp.exe":
				port = 443
			case "sshd":
				port = 22
			case "services.exe":
				port = 135
			}
			if port != 0 {
				fmt.Fprintf(&b, "%-6s %-24s %-24s %-12s %d\n", "TCP", st.ip+":"+strconv.Itoa(port), "0.0.0.0:0", "LISTENING", p.pid)
			}
		}
		if sv := st.services["lanmanserver"]; sv != nil && sv.running {
			fmt.Fprintf(&b, "%-6s %-24s %-24s %-12s %d\n", "TCP", st.ip+":445", "0.0.0.0:0", "LISTENING", 4)
		}
		return b.String(), ""
	case "env":
		var b strings.Builder
		for _, kv := range st.env {
			b.WriteString(kv[0] + "=" + kv[1] + "\n")
		}
		return b.String(), ""
	case "getsid":
		if !st.windows {
			return "", "getsid: only available on Windows hosts"
		}
		return "UserName  SID\nSYSTEM    S-1-5-18\nAdministrator  S-1-5-21-" + strconv.Itoa(int(digestHex(st.aid)[0])*1000003) + "-500\n", ""
	case "ipconfig", "ifconfig":
		if st.windows != (name == "ipconfig") {
			return "", name + ": not available on this platform"
		}
		return "Interface 0\n  IPv4 Address: " + st.ip + "\n", ""
	case "reg query":
		key := normKey(arg(0))
		k := st.reg[strings.ToUpper(key)]
		if k == nil {
			return "", "reg query: key not found: " + key
		}
		var b strings.Builder
		b.WriteString(k.path + "\n")
		names := make([]string, 0, len(k.values))
		for n := range k.values {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			v := k.values[n]
			fmt.Fprintf(&b, "    %s    %s    %s\n", v.name, v.typ, v.data)
		}
		prefix := strings.ToUpper(key) + `\`
		for p, sub := range st.reg {
			if strings.HasPrefix(p, prefix) && !strings.Contains(p[len(prefix):], `\`) {
				b.WriteString(sub.path + "\n")
			}
		}
		return b.String(), ""
	case "reg set":
		key := normKey(arg(0))
		if key == "" || flags["value"] == "" {
			return "", `reg set: usage: reg set <key> -Value=<name> -Type=REG_SZ|REG_DWORD -ValueData=<data>`
		}
		typ := strings.ToUpper(flags["type"])
		if typ == "" {
			typ = "REG_SZ"
		}
		if typ == "REG_DWORD" {
			if _, err := strconv.ParseUint(flags["valuedata"], 0, 32); err != nil {
				return "", "reg set: REG_DWORD data must be a 32-bit unsigned integer, got " + flags["valuedata"]
			}
		}
		st.setReg(key, flags["value"], typ, flags["valuedata"])
		st.syncServiceFromReg(key)
		return "The operation completed successfully.\n", ""
	case "reg delete":
		key := normKey(arg(0))
		k := st.reg[strings.ToUpper(key)]
		if k == nil {
			return "", "reg delete: key not found: " + key
		}
		if v := flags["value"]; v != "" {
			if _, ok := k.values[strings.ToUpper(v)]; !ok {
				return "", "reg delete: value " + v + " not found under " + key
			}
			delete(k.values, strings.ToUpper(v))
		} else {
			delete(st.reg, strings.ToUpper(key))
		}
		return "The operation completed successfully.\n", ""
	case "kill":
		pid, err := strconv.Atoi(arg(0))
		if err != nil {
			return "", "kill: usage: kill <pid>"
		}
		for i, p := range st.procs {
			if p.pid == pid {
				if pid == 4 {
					return "", "kill: access denied: process 4 (System) cannot be terminated"
				}
				st.procs = append(st.procs[:i], st.procs[i+1:]...)
				for _, sv := range st.services {
					if strings.EqualFold(sv.proc, p.name) {
						sv.running = false
					}
				}
				return fmt.Sprintf("Process %d (%s) terminated\n", pid, p.name), ""
			}
		}
		return "", fmt.Sprintf("kill: no process with pid %d", pid)
	case "rm":
		p := st.abs(sess.pwd, arg(0))
		f := st.files[st.canon(p)]
		if f == nil {
			return "", "rm: no such file or directory " + p
		}
		if f.dir {
			if _, force := flags["force"]; !force {
				return "", "rm: " + p + " is a directory; use -Force"
			}
			prefix := st.canon(p) + st.sep()
			for k := range st.files {
				if strings.HasPrefix(k, prefix) {
					delete(st.files, k)
				}
			}
		}
		delete(st.files, st.canon(p))
		return "Removed " + f.path + "\n", ""
	case "mkdir":
		p := st.abs(sess.pwd, arg(0))
		if st.files[st.canon(p)] != nil {
			return "", "mkdir: " + p + " already exists"
		}
		if par := st.files[st.canon(st.parent(p))]; par == nil || !par.dir {
			return "", "mkdir: parent directory of " + p + " does not exist"
		}
		st.addFile(p, true, "")
		return "Created " + p + "\n", ""
	case "cp", "mv":
		src, dst := st.abs(sess.pwd, arg(0)), st.abs(sess.pwd, arg(1))
		f := st.files[st.canon(src)]
		if f == nil || f.dir {
			return "", name + ": no such file " + src
		}
		if d := st.files[st.canon(dst)]; d != nil && d.dir {
			dst = strings.TrimRight(d.path, st.sep()) + st.sep() + f.path[strings.LastIndex(f.path, st.sep())+1:]
		}
		if par := st.files[st.canon(st.parent(dst))]; par == nil || !par.dir {
			return "", name + ": destination directory of " + dst + " does not exist"
		}
		st.addFile(dst, false, f.content)
		if name == "mv" {
			delete(st.files, st.canon(src))
			return "Moved " + src + " to " + dst + "\n", ""
		}
		return "Copied " + src + " to " + dst + "\n", ""
	case "runscript":
		return st.runscript(flags)
	}
	return "", name + ": not simulated"
}

func (st *hostState) ls(p string) (string, string) {
	f := st.files[st.canon(p)]
	if f == nil {
		return "", "ls: cannot find path " + p
	}
	if !f.dir {
		return fmt.Sprintf("%s  file  %d bytes\n", f.path, len(f.content)), ""
	}
	prefix := st.canon(p)
	if !strings.HasSuffix(prefix, st.sep()) {
		prefix += st.sep()
	}
	var names []string
	for k, e := range st.files {
		if strings.HasPrefix(k, prefix) && k != prefix && !strings.Contains(k[len(prefix):], st.sep()) {
			kind := "file"
			if e.dir {
				kind = "<Directory>"
			}
			names = append(names, fmt.Sprintf("%-40s %-12s %d", e.path[strings.LastIndex(e.path, st.sep())+1:], kind, len(e.content)))
		}
	}
	slices.Sort(names)
	return "Directory listing for " + f.path + "\n\nName                                     Type         Size (bytes)\n" + strings.Join(names, "\n") + "\n", ""
}

// syncServiceFromReg applies a service start type set through the registry:
// Start=4 disables the service, so the simulated host stops it.
func (st *hostState) syncServiceFromReg(key string) {
	up := strings.ToUpper(key)
	if !strings.HasPrefix(up, strings.ToUpper(svcPolicyKey)) {
		return
	}
	name := strings.ToLower(key[len(svcPolicyKey):])
	sv := st.services[name]
	if sv == nil {
		return
	}
	if v, ok := st.reg[up].values["START"]; ok && v.data == "4" {
		st.stopService(sv)
	}
}

func (st *hostState) stopService(sv *service) {
	sv.running = false
	if sv.proc == "" {
		return
	}
	st.procs = slices.DeleteFunc(st.procs, func(p proc) bool { return strings.EqualFold(p.name, sv.proc) })
}

// builtinScripts are the runscript cloud files the simulator implements
// (runscript -CloudFile=NAME [-CommandLine=ARGS]); anything else fails as a
// missing cloud file would.
var builtinScripts = map[string]string{
	"Disable-SMBv1": "Windows: sets HKLM\\SYSTEM\\CurrentControlSet\\Services\\LanmanServer\\Parameters SMB1=0 (REG_DWORD)",
	"Stop-Service":  "stops and disables the service named by -CommandLine (Windows: Start=4 under its Services key; Linux/Mac: kills its process)",
	"Get-Services":  "lists services with their state",
}

func (st *hostState) runscript(flags map[string]string) (string, string) {
	if _, raw := flags["raw"]; raw {
		return "", "runscript: -Raw scripts are not simulated; use -CloudFile with one of: " + scriptNames()
	}
	name := flags["cloudfile"]
	switch name {
	case "Disable-SMBv1":
		if !st.windows {
			return "", "Disable-SMBv1: only applies to Windows hosts"
		}
		st.setReg(smbParamsKey, "SMB1", "REG_DWORD", "0")
		return "SMBv1 server protocol disabled (SMB1=0)\n", ""
	case "Stop-Service":
		svName := strings.TrimSpace(flags["commandline"])
		sv := st.services[strings.ToLower(svName)]
		if sv == nil {
			return "", "Stop-Service: no service named " + quoteForMsg(svName)
		}
		st.stopService(sv)
		if st.windows {
			st.setReg(svcPolicyKey+sv.name, "Start", "REG_DWORD", "4")
		}
		return "Service " + sv.name + " stopped and disabled\n", ""
	case "Get-Services":
		names := make([]string, 0, len(st.services))
		for n := range st.services {
			names = append(names, n)
		}
		slices.Sort(names)
		var b strings.Builder
		for _, n := range names {
			sv := st.services[n]
			state := "Stopped"
			if sv.running {
				state = "Running"
			}
			fmt.Fprintf(&b, "%-16s %-8s %s\n", sv.name, state, sv.display)
		}
		return b.String(), ""
	case "":
		return "", "runscript: -CloudFile=<name> is required; one of: " + scriptNames()
	}
	return "", "runscript: cloud file " + quoteForMsg(name) + " not found; available: " + scriptNames()
}

func scriptNames() string {
	names := make([]string, 0, len(builtinScripts))
	for n := range builtinScripts {
		names = append(names, n)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}
