// Package evals measures how well vulnpilot prioritizes: it runs labelled
// scenarios (evals/fixtures/<name>/: a simulator tenant, optional policy and
// EPSS file, and hand-written labels) through the same pipeline `vulnpilot
// run` uses — the HTTPS Falcon simulator, the real Falcon client, the
// snapshot, the risk engine and the work-item planner — and through four
// baselines that rank the same pulled findings (CVSS only, ExPRT rating only,
// KEV then CVSS, CVE_Prioritizer's rules). It reports NDCG@10/@20, P1
// precision and recall, agreement with CISA BOD 26-04 (computed here from the
// CSV, never by the risk engine), top-K constraint hits, and the effect of
// instructions planted in fixture text, and checks them against
// evals/thresholds.yaml. README.md documents the fixture format and every
// metric.
package evals
