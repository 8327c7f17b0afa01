package cvedata

import (
	"regexp"
	"slices"
	"strings"
)

// Software is one product the simulator installs on hosts, together with the
// rule that ties real CVE records to it. CVE records name products
// inconsistently ("Microsoft"/"microsoft", "Windows 10 Version 1809"/"Windows 10
// Version 22H2", "Linux"/"The Linux Kernel Organization"), so each entry lists
// the vendor/product spellings that really occur in the Vulnrichment data.
type Software struct {
	Key     string // stable id, e.g. "chrome", "windows-server-2019"
	Vendor  string // vendor as Falcon Spotlight shows it in apps[].vendor
	Product string // product as Falcon Spotlight shows it in apps[].product_name

	products []productRule
	// redHatTitle matches Red Hat CNA records by their title convention
	// "<package>: <summary>": those records name the RHEL release as the
	// product and the package only in the title.
	redHatTitle *regexp.Regexp
	// title, when set, makes a role entry: only records whose title names
	// the role's component match (e.g. the Kerberos/LDAP/Netlogon CVEs of
	// Windows Server, which matter on domain controllers).
	title *regexp.Regexp
}

// productRule matches one affected vendor/product pair; both patterns apply
// to the lower-cased names and must match the whole string.
type productRule struct {
	vendor, product *regexp.Regexp
}

func rule(vendor, product string) productRule {
	return productRule{
		vendor:  regexp.MustCompile(`^(?:` + vendor + `)$`),
		product: regexp.MustCompile(`^(?:` + product + `)$`),
	}
}

func rhTitle(pkgs string) *regexp.Regexp {
	return regexp.MustCompile(`^(?i:` + pkgs + `): `)
}

const (
	msVendor    = `microsoft( corporation)?`
	asfVendor   = `apache software foundation|apache`
	zoomVendor  = `zoom|zoom (video )?communications,? inc\.?`
	oracleVendr = `oracle|oracle corporation`
)

// catalog is the immutable software table. Keys are stable: tenants and the
// generator refer to them.
var catalog = []Software{
	// Windows operating systems. Microsoft records list at most five affected
	// products in the compact data, so families are matched, not releases.
	{Key: "windows-10", Vendor: "Microsoft", Product: "Windows", products: []productRule{rule(msVendor, `windows 10( .*)?`)}},
	{Key: "windows-11", Vendor: "Microsoft", Product: "Windows", products: []productRule{rule(msVendor, `windows 11( .*)?`)}},
	{Key: "windows-server-2016", Vendor: "Microsoft", Product: "Windows", products: []productRule{rule(msVendor, `windows server 2016( .*)?`)}},
	{Key: "windows-server-2019", Vendor: "Microsoft", Product: "Windows", products: []productRule{rule(msVendor, `windows server 2019( .*)?`)}},
	{Key: "windows-server-2022", Vendor: "Microsoft", Product: "Windows", products: []productRule{rule(msVendor, `windows server 2022( .*)?`)}},
	// Server roles: subsets of the Windows Server records by component title.
	{Key: "windows-ad-ds", Vendor: "Microsoft", Product: "Windows", products: []productRule{rule(msVendor, `windows server .*`)},
		title: regexp.MustCompile(`(?i)kerberos|lightweight directory access protocol|\(ldap\)|netlogon|active directory|group policy|\bntlm\b|local security authority|dns server|certificate services|\bdhcp server`)},
	{Key: "iis", Vendor: "Microsoft", Product: "Internet Information Services", products: []productRule{rule(msVendor, `windows server .*`)},
		title: regexp.MustCompile(`(?i)http\.sys|internet information services|\biis\b|http protocol stack`)},

	// Microsoft applications.
	{Key: "office", Vendor: "Microsoft", Product: "Office", products: []productRule{rule(msVendor,
		`microsoft office (2013|2016|2019|ltsc 20\d\d)( .*)?|microsoft 365 apps for enterprise|office 365 proplus|microsoft (outlook|excel|word|powerpoint|visio|access|publisher|project) 20\d\d( .*)?|outlook for windows`)}},
	{Key: "office-mac", Vendor: "Microsoft", Product: "Office for Mac", products: []productRule{rule(msVendor,
		`microsoft office (ltsc for mac|20\d\d for mac)( .*)?|microsoft autoupdate for mac`)}},
	{Key: "edge", Vendor: "Microsoft", Product: "Edge", products: []productRule{rule(msVendor, `microsoft edge \(chromium-based\)( extended stable)?`)}},
	{Key: "dotnet", Vendor: "Microsoft", Product: ".NET", products: []productRule{rule(msVendor, `(microsoft )?\.net (framework .*|[5-9]\.0|core .*)`)}},
	{Key: "vscode", Vendor: "Microsoft", Product: "Visual Studio Code", products: []productRule{rule(msVendor, `visual studio code`)}},
	{Key: "exchange", Vendor: "Microsoft", Product: "Exchange Server", products: []productRule{rule(msVendor, `microsoft exchange server 20\d\d( .*)?`)}},
	{Key: "sql-server", Vendor: "Microsoft", Product: "SQL Server", products: []productRule{rule(msVendor, `microsoft sql server 20\d\d( .*)?`)}},
	{Key: "sharepoint", Vendor: "Microsoft", Product: "SharePoint Server", products: []productRule{rule(msVendor, `microsoft sharepoint (enterprise server|server|foundation)( .*)?`)}},

	// Third-party desktop software.
	{Key: "chrome", Vendor: "Google", Product: "Chrome", products: []productRule{rule(`google`, `chrome`)}},
	{Key: "firefox", Vendor: "Mozilla", Product: "Firefox", products: []productRule{rule(`mozilla`, `firefox( esr)?`)}},
	{Key: "acrobat-reader", Vendor: "Adobe", Product: "Acrobat Reader", products: []productRule{rule(`adobe`, `acrobat( reader)?( dc)?`)}},
	{Key: "7zip", Vendor: "Igor Pavlov", Product: "7-Zip", products: []productRule{rule(`7-?zip|igor pavlov`, `7-?zip`)}},
	{Key: "zoom", Vendor: "Zoom", Product: "Zoom Workplace", products: []productRule{rule(zoomVendor,
		`zoom (clients|desktop client|workplace|apps|rooms).*|meetings`)}},
	{Key: "java", Vendor: "Oracle", Product: "Java SE", products: []productRule{rule(oracleVendr, `java( se)?( jdk and jre)?`)}},

	// Linux server software.
	{Key: "linux-kernel", Vendor: "Linux", Product: "Linux Kernel", products: []productRule{
		rule(`linux|the linux kernel organization|`, `linux( kernel)?|kernel|linux_kernel`)},
		redHatTitle: rhTitle(`kernel`)},
	{Key: "openssl", Vendor: "OpenSSL", Product: "OpenSSL", products: []productRule{rule(`openssl|`, `openssl`)}, redHatTitle: rhTitle(`openssl`)},
	{Key: "openssh", Vendor: "OpenBSD", Product: "OpenSSH", products: []productRule{rule(`openbsd|openssh|`, `openssh`)}, redHatTitle: rhTitle(`openssh`)},
	{Key: "sudo", Vendor: "Sudo Project", Product: "sudo", products: []productRule{rule(`sudo|sudo_project|sudo project|`, `sudo`)}, redHatTitle: rhTitle(`sudo`)},
	{Key: "glibc", Vendor: "GNU", Product: "glibc", products: []productRule{rule(`the gnu c library|gnu libc|gnu|`, `glibc`)}, redHatTitle: rhTitle(`glibc`)},
	{Key: "curl", Vendor: "curl", Product: "curl", products: []productRule{rule(`curl|haxx|`, `curl|https://github\.com/curl/curl`)}, redHatTitle: rhTitle(`curl`)},
	{Key: "xz", Vendor: "Tukaani", Product: "xz", products: []productRule{rule(`tukaani|tukaani-project|`, `xz`)}, redHatTitle: rhTitle(`xz`)},
	{Key: "apache-httpd", Vendor: "Apache", Product: "HTTP Server", products: []productRule{rule(asfVendor, `apache http server|http_server`)}, redHatTitle: rhTitle(`httpd`)},
	{Key: "nginx", Vendor: "F5", Product: "nginx", products: []productRule{rule(`f5|nginx`, `nginx( open source| plus)?`)}, redHatTitle: rhTitle(`nginx`)},
	{Key: "tomcat", Vendor: "Apache", Product: "Tomcat", products: []productRule{rule(asfVendor, `apache tomcat|tomcat`)}, redHatTitle: rhTitle(`tomcat`)},
	{Key: "postgresql", Vendor: "PostgreSQL", Product: "PostgreSQL", products: []productRule{rule(`postgresql|`, `postgresql`)}, redHatTitle: rhTitle(`postgresql`)},

	// Apple.
	{Key: "macos", Vendor: "Apple", Product: "macOS", products: []productRule{rule(`apple`, `macos( .*)?`)}},
	{Key: "safari", Vendor: "Apple", Product: "Safari", products: []productRule{rule(`apple`, `safari`)}},
}

// Catalog returns the software table (a copy), in a fixed order.
func Catalog() []Software { return slices.Clone(catalog) }

// SoftwareByKey returns the catalog entry with the given key.
func SoftwareByKey(key string) (Software, bool) {
	i := slices.IndexFunc(catalog, func(s Software) bool { return s.Key == key })
	if i < 0 {
		return Software{}, false
	}
	return catalog[i], true
}

// Matches reports whether the record affects this software: a product pair
// matches one of the entry's vendor/product spellings, or (Red Hat records)
// the title names the package. Role entries also require the title to name
// the role's component.
func (s Software) Matches(r Record) bool {
	if s.title != nil && !s.title.MatchString(r.Title) {
		return false
	}
	for _, p := range r.Products {
		v, prod := strings.ToLower(strings.TrimSpace(p.Vendor)), strings.ToLower(strings.TrimSpace(p.Product))
		for _, pr := range s.products {
			if pr.vendor.MatchString(v) && pr.product.MatchString(prod) {
				return true
			}
		}
	}
	if s.redHatTitle != nil && s.redHatTitle.MatchString(r.Title) {
		for _, p := range r.Products {
			if p.Vendor == "Red Hat" {
				return true
			}
		}
	}
	return false
}
