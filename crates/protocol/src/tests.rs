//! Golden tests: every JSON example of `shared/protocol.md` round-trips, and
//! bad input is refused with a reason a person can act on.

use super::*;
use serde::{de::DeserializeOwned, Serialize};
use serde_json::{json, Value};

const TS: &str = "2026-11-25T10:00:00Z";

fn kpi() -> Value {
    json!({"key": "revenue", "label": "Revenue", "value": 1234.5, "unit": "USD", "delta": 2.4, "status": "ok"})
}

fn kpi_n(n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| json!({"key": format!("k{i}"), "label": format!("K {i}"), "value": i as f64}))
        .collect()
}

/// Decode, re-encode, compare with the original JSON.
fn round_trip<T: DeserializeOwned + Serialize + Validate>(v: Value) -> T {
    let t: T = decode(v.clone()).expect("golden example decodes");
    assert_eq!(
        serde_json::to_value(&t).unwrap(),
        v,
        "re-encoding changes nothing"
    );
    t
}

#[test]
fn kpi_example_round_trips() {
    let k: Kpi = round_trip(kpi());
    assert_eq!(k.status, Some(KpiStatus::Ok));
    // optional fields may be absent
    let k: Kpi = round_trip(json!({"key": "x", "label": "X", "value": 1.0}));
    assert_eq!(k.unit, None);
}

#[test]
fn module_kpis_round_trip() {
    let m: ModuleKpis = round_trip(json!({"module": "finance", "kpis": [kpi()], "updatedAt": TS}));
    assert_eq!(m.module, Module::Finance);
}

#[test]
fn dashboard_round_trips_and_needs_6_and_4() {
    round_trip::<Dashboard>(json!({"summary": kpi_n(6), "topKpis": kpi_n(4), "updatedAt": TS}));
    let e = decode::<Dashboard>(json!({"summary": kpi_n(5), "topKpis": kpi_n(4), "updatedAt": TS}))
        .unwrap_err();
    assert!(e.to_string().contains("summary"), "{e}");
}

#[test]
fn notification_round_trips() {
    let n: Notification = round_trip(
        json!({"id": "n-42", "seq": 42, "title": "Payroll", "body": "Done",
        "severity": "success", "module": "finance", "createdAt": TS, "read": false}),
    );
    assert_eq!(n.seq, 42);
    round_trip::<Notification>(json!({"id": "n-1", "seq": 1, "title": "t", "body": "",
        "severity": "info", "createdAt": TS, "read": true}));
}

#[test]
fn alert_round_trips() {
    let a: Alert = round_trip(
        json!({"id": "a-7", "severity": "critical", "title": "Disk", "message": "full", "createdAt": TS}),
    );
    assert_eq!(a.severity, AlertSeverity::Critical);
}

#[test]
fn connection_status_round_trips() {
    round_trip::<ConnectionStatus>(json!({"status": "connected", "serverTime": TS,
        "serverVersion": "0.1.0", "modules": ["reports", "finance", "hr", "security"]}));
}

#[test]
fn notification_read_round_trips() {
    round_trip::<NotificationRead>(json!({"ids": ["n-1"], "unreadCount": 3}));
}

#[test]
fn client_requests_round_trip() {
    round_trip::<ModuleRequest>(json!({"module": "finance"}));
    round_trip::<DashboardSubscribe>(json!({}));
    let s: NotificationSubscribe = round_trip(json!({"afterSeq": 41}));
    assert_eq!(s.after_seq, Some(41));
    let s: NotificationSubscribe = decode(json!({})).unwrap();
    assert_eq!(s.after_seq, None);
    assert_eq!(
        round_trip::<MarkRead>(json!({"ids": ["n-1", "n-2"]})),
        MarkRead::Ids(vec!["n-1".into(), "n-2".into()])
    );
    assert_eq!(round_trip::<MarkRead>(json!({"all": true})), MarkRead::All);
}

#[test]
fn acks_round_trip() {
    round_trip::<SnapshotAck<ModuleKpis>>(
        json!({"ok": true, "snapshot": {"module": "hr", "kpis": [], "updatedAt": TS}}),
    );
    round_trip::<NotificationSubscribeAck>(
        json!({"ok": true, "notifications": [], "unreadCount": 0}),
    );
    round_trip::<NotificationSubscribeAck>(
        json!({"ok": true, "notifications": [], "unreadCount": 0, "lastSeq": 3}),
    );
    round_trip::<MarkReadAck>(json!({"ok": true, "unreadCount": 2}));
    let e =
        decode_ack::<MarkReadAck>(json!({"ok": false, "error": "unknown module `x`"})).unwrap_err();
    assert!(e.to_string().contains("unknown module"), "{e}");
    assert!(decode_ack::<MarkReadAck>(json!("nope")).is_err());
}

#[test]
fn http_bodies_round_trip() {
    round_trip::<NewNotification>(
        json!({"title": "t", "body": "b", "severity": "warning", "module": "hr"}),
    );
    round_trip::<NewAlert>(json!({"title": "t", "message": "m", "severity": "info"}));
    round_trip::<PutKpis>(json!({"kpis": [kpi()]}));
    round_trip::<PutDashboard>(json!({"summary": kpi_n(6), "topKpis": kpi_n(4)}));
}

#[test]
fn snapshot_round_trips() {
    round_trip::<Snapshot>(json!({
        "modules": {"finance": {"module": "finance", "kpis": [kpi()], "updatedAt": TS}},
        "dashboard": {"summary": kpi_n(6), "topKpis": kpi_n(4), "updatedAt": TS},
        "unreadCount": 1
    }));
}

#[test]
fn server_events_decode_by_name() {
    let e = ServerEvent::decode(
        "kpi:update:finance",
        json!({"module": "finance", "kpis": [], "updatedAt": TS}),
    )
    .unwrap();
    assert_eq!(e.name(), "kpi:update:finance");
    assert_eq!(e.payload()["module"], "finance");
    // module in the name and in the payload must agree
    let err = ServerEvent::decode(
        "kpi:update:hr",
        json!({"module": "finance", "kpis": [], "updatedAt": TS}),
    )
    .unwrap_err();
    assert!(err.to_string().contains("kpi:update:hr"), "{err}");
    assert!(matches!(
        ServerEvent::decode("kpi:update:payroll", json!({})),
        Err(ProtocolError::Invalid(_))
    ));
    assert!(matches!(
        ServerEvent::decode("what:ever", json!({})),
        Err(ProtocolError::UnknownEvent(_))
    ));
    for m in Module::ALL {
        assert_eq!(m.kpi_event(), format!("kpi:update:{m}"));
        assert_eq!(m.as_str().parse::<Module>().unwrap(), m);
    }
}

#[test]
fn malformed_json_is_refused_with_reason() {
    let e = decode_slice::<NewNotification>(b"{not json").unwrap_err();
    assert!(matches!(e, ProtocolError::Malformed(_)));
    let e = decode_slice::<NewNotification>(br#"{"body": "b", "severity": "info"}"#).unwrap_err();
    assert!(e.to_string().contains("missing field `title`"), "{e}");
    let e = decode_slice::<NewNotification>(br#"{"title": 5, "body": "b", "severity": "info"}"#)
        .unwrap_err();
    assert!(e.to_string().contains("invalid type"), "{e}");
    let e = decode_slice::<NewAlert>(br#"{"title": "t", "message": "m", "severity": "fatal"}"#)
        .unwrap_err();
    assert!(e.to_string().contains("unknown variant `fatal`"), "{e}");
    let e = decode_slice::<NewNotification>(
        br#"{"title": "t", "body": "b", "severity": "info", "module": "payroll"}"#,
    )
    .unwrap_err();
    assert!(e.to_string().contains("payroll"), "{e}");
}

#[test]
fn rules_beyond_shape_are_enforced() {
    let e = decode::<NewNotification>(json!({"title": "  ", "body": "", "severity": "info"}))
        .unwrap_err();
    assert!(e.to_string().contains("`title` must not be empty"), "{e}");
    let long = "x".repeat(limits::MAX_LABEL + 1);
    let e =
        decode::<NewAlert>(json!({"title": long, "message": "", "severity": "info"})).unwrap_err();
    assert!(e.to_string().contains("limit"), "{e}");
    let e = decode::<PutKpis>(json!({"kpis": [kpi(), kpi()]})).unwrap_err();
    assert!(e.to_string().contains("twice"), "{e}");
    let e = decode::<PutKpis>(json!({"kpis": kpi_n(limits::MAX_KPIS + 1)})).unwrap_err();
    assert!(e.to_string().contains("limit"), "{e}");
    let e = decode::<Notification>(json!({"id": "n-0", "seq": 0, "title": "t", "body": "", "severity": "info", "createdAt": TS})).unwrap_err();
    assert!(e.to_string().contains("seq"), "{e}");
    let e = decode::<Notification>(json!({"id": "n-1", "seq": 1, "title": "t", "body": "", "severity": "info", "createdAt": "yesterday"})).unwrap_err();
    assert!(matches!(e, ProtocolError::Malformed(_)), "{e}");
    let e = decode::<MarkRead>(json!({})).unwrap_err();
    assert!(e.to_string().contains("ids"), "{e}");
    let e = decode::<MarkRead>(json!({"ids": ["a"], "all": true})).unwrap_err();
    assert!(e.to_string().contains("not both"), "{e}");
    let e = decode::<MarkRead>(json!({"all": false})).unwrap_err();
    assert!(e.to_string().contains("all: true"), "{e}");
    let big = vec![b' '; limits::MAX_BODY_BYTES + 1];
    let e = decode_slice::<NewAlert>(&big).unwrap_err();
    assert!(e.to_string().contains("larger than the limit"), "{e}");
}

#[test]
fn non_finite_numbers_cannot_be_expressed_but_are_checked() {
    let k = Kpi {
        key: "k".into(),
        label: "K".into(),
        value: f64::NAN,
        unit: None,
        delta: None,
        status: None,
        better: None,
        thresholds: None,
    };
    assert!(k.validate().is_err());
}
