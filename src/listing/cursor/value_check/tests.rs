//! One test per checked type: the encodings tokio-postgres produces pass, every malformation
//! the server would refuse is caught with a reason.

use bytes::BytesMut;
use tokio_postgres::types::{Kind, ToSql, Type};

use super::check;

/// `value` in the binary format of `ty`, as a listing encodes a row's sort value.
fn wire(value: &(dyn ToSql + Sync), ty: &Type) -> Vec<u8> {
    let mut buf = BytesMut::new();
    value.to_sql_checked(ty, &mut buf).unwrap();
    buf.to_vec()
}

#[track_caller]
fn rejected(ty: &Type, value: &[u8], reason: &str) {
    match check(ty, value) {
        Err(why) => assert!(why.contains(reason), "{ty} {value:?}: {why}"),
        Ok(()) => panic!("{ty} {value:?} accepted, expected: {reason}"),
    }
}

#[track_caller]
fn accepted(ty: &Type, value: &[u8]) {
    if let Err(why) = check(ty, value) {
        panic!("{ty} {value:?} rejected: {why}");
    }
}

/// Each fixed-width type with a genuine encoding: one byte more or less is refused.
#[track_caller]
fn fixed_width(ty: &Type, genuine: Vec<u8>, width: usize) {
    assert_eq!(genuine.len(), width, "{ty}");
    accepted(ty, &genuine);
    rejected(ty, &genuine[..width - 1], &format!("expected {width}"));
    let mut longer = genuine;
    longer.push(0);
    rejected(
        ty,
        &longer,
        &format!("{} bytes, expected {width}", width + 1),
    );
    rejected(ty, &[], "0 bytes");
}

#[test]
fn bool_is_one_byte_0_or_1() {
    accepted(&Type::BOOL, &wire(&true, &Type::BOOL));
    accepted(&Type::BOOL, &wire(&false, &Type::BOOL));
    rejected(&Type::BOOL, &[2], "a bool is 0 or 1, found 2");
    rejected(&Type::BOOL, &[1, 0], "2 bytes, expected 1");
    rejected(&Type::BOOL, &[], "0 bytes, expected 1");
}

#[test]
fn integers_and_floats_have_their_width() {
    fixed_width(&Type::CHAR, wire(&-3i8, &Type::CHAR), 1);
    fixed_width(&Type::INT2, wire(&-3i16, &Type::INT2), 2);
    fixed_width(&Type::INT4, wire(&-3i32, &Type::INT4), 4);
    fixed_width(&Type::INT8, wire(&-3i64, &Type::INT8), 8);
    fixed_width(&Type::FLOAT4, wire(&f32::NAN, &Type::FLOAT4), 4);
    fixed_width(&Type::FLOAT8, wire(&f64::NEG_INFINITY, &Type::FLOAT8), 8);
}

#[test]
fn oids_money_lsn_uuid_and_interval_have_their_width() {
    fixed_width(&Type::OID, wire(&7u32, &Type::OID), 4);
    fixed_width(&Type::REGCLASS, 1259u32.to_be_bytes().to_vec(), 4);
    fixed_width(&Type::MONEY, (-1234i64).to_be_bytes().to_vec(), 8);
    fixed_width(&Type::PG_LSN, 1u64.to_be_bytes().to_vec(), 8);
    fixed_width(&Type::UUID, vec![0xAB; 16], 16);
    fixed_width(&Type::INTERVAL, vec![0xFF; 16], 16);
}

#[cfg(feature = "uuid")]
#[test]
fn uuid_encodings_pass() {
    let id = uuid::Uuid::from_u128(0x1234_5678_9abc_def0_1234_5678_9abc_def0);
    fixed_width(&Type::UUID, wire(&id, &Type::UUID), 16);
}

#[test]
fn date_is_four_bytes_in_the_servers_range_or_infinite() {
    let days = |d: i32| d.to_be_bytes();
    for ok in [0, i32::MIN, i32::MAX, -2_451_545, 2_145_031_948] {
        accepted(&Type::DATE, &days(ok));
    }
    rejected(&Type::DATE, &days(-2_451_546), "date out of range");
    rejected(&Type::DATE, &days(2_145_031_949), "date out of range");
    rejected(&Type::DATE, &0i64.to_be_bytes(), "8 bytes, expected 4");
}

#[test]
fn time_is_eight_bytes_within_a_day() {
    let micros = |t: i64| t.to_be_bytes();
    accepted(&Type::TIME, &micros(0));
    accepted(&Type::TIME, &micros(86_400_000_000));
    rejected(&Type::TIME, &micros(-1), "time out of range");
    rejected(&Type::TIME, &micros(86_400_000_001), "time out of range");
    rejected(&Type::TIME, &0i32.to_be_bytes(), "4 bytes, expected 8");
}

#[test]
fn timetz_is_a_time_and_a_zone_under_16_hours() {
    let timetz = |micros: i64, zone: i32| {
        let mut out = micros.to_be_bytes().to_vec();
        out.extend_from_slice(&zone.to_be_bytes());
        out
    };
    accepted(&Type::TIMETZ, &timetz(3_600_000_000, -7200));
    accepted(&Type::TIMETZ, &timetz(0, 57_599));
    accepted(&Type::TIMETZ, &timetz(86_400_000_000, -57_599));
    for zone in [57_600, -57_600, i32::MIN] {
        rejected(&Type::TIMETZ, &timetz(0, zone), "displacement out of range");
    }
    rejected(&Type::TIMETZ, &timetz(-1, 0), "time out of range");
    rejected(&Type::TIMETZ, &0i64.to_be_bytes(), "8 bytes, expected 12");
}

#[test]
fn timestamps_are_eight_bytes_in_the_servers_range_or_infinite() {
    let first = -2_451_545i64 * 86_400_000_000;
    let end = 106_751_983i64 * 86_400_000_000;
    for ty in [Type::TIMESTAMP, Type::TIMESTAMPTZ] {
        for ok in [0, i64::MIN, i64::MAX, first, end - 1] {
            accepted(&ty, &ok.to_be_bytes());
        }
        rejected(&ty, &(first - 1).to_be_bytes(), "timestamp out of range");
        rejected(&ty, &end.to_be_bytes(), "timestamp out of range");
        rejected(&ty, &0i32.to_be_bytes(), "4 bytes, expected 8");
    }
}

#[cfg(feature = "time")]
#[test]
fn time_crate_encodings_pass() {
    let now = time::OffsetDateTime::now_utc();
    accepted(&Type::TIMESTAMPTZ, &wire(&now, &Type::TIMESTAMPTZ));
    let local = time::PrimitiveDateTime::new(now.date(), now.time());
    accepted(&Type::TIMESTAMP, &wire(&local, &Type::TIMESTAMP));
    accepted(&Type::DATE, &wire(&now.date(), &Type::DATE));
    accepted(&Type::TIME, &wire(&now.time(), &Type::TIME));
    // The crate's earliest date is older than the server's: never a column's value.
    rejected(
        &Type::DATE,
        &wire(&time::Date::MIN, &Type::DATE),
        "date out of range",
    );
}

#[test]
fn text_kinds_are_utf8_without_nul() {
    for ty in [
        Type::TEXT,
        Type::VARCHAR,
        Type::BPCHAR,
        Type::NAME,
        Type::JSON,
    ] {
        accepted(&ty, "héllo, wörld".as_bytes());
        accepted(&ty, b"");
        rejected(&ty, b"a\0b", "NUL byte");
        rejected(&ty, &[b'a', 0xFF], "not UTF-8");
        rejected(&ty, &[0xC3], "not UTF-8");
    }
}

#[test]
fn jsonb_is_version_1_then_utf8() {
    accepted(&Type::JSONB, b"\x01{\"a\":1}");
    rejected(&Type::JSONB, b"\x02{}", "jsonb format version 2");
    rejected(&Type::JSONB, b"{}", "format version 123");
    rejected(&Type::JSONB, b"", "0 bytes");
    rejected(&Type::JSONB, b"\x01\"\xFF\"", "not UTF-8");
    rejected(&Type::JSONB, b"\x01\"\0\"", "NUL byte");
}

#[cfg(feature = "json")]
#[test]
fn serde_json_encodings_pass() {
    let value = serde_json::json!({"name": "Ada", "tags": ["a", "ü"]});
    accepted(&Type::JSONB, &wire(&value, &Type::JSONB));
    accepted(&Type::JSON, &wire(&value, &Type::JSON));
}

/// A binary numeric: digit count, weight, sign, display scale, digits.
fn numeric(weight: i16, sign: u16, dscale: u16, digits: &[i16]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(digits.len() as u16).to_be_bytes());
    out.extend_from_slice(&weight.to_be_bytes());
    out.extend_from_slice(&sign.to_be_bytes());
    out.extend_from_slice(&dscale.to_be_bytes());
    for d in digits {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out
}

#[test]
fn numeric_has_a_well_formed_header_and_digits() {
    let ty = Type::NUMERIC;
    accepted(&ty, &numeric(0, 0x0000, 1, &[12, 5000])); // 12.5
    accepted(&ty, &numeric(0, 0x4000, 0, &[9999])); // -9999
    accepted(&ty, &numeric(0, 0, 0, &[])); // 0
    accepted(&ty, &numeric(i16::MIN, 0, 0x3FFF, &[1])); // any weight is well-formed
    for special in [0xC000, 0xD000, 0xF000] {
        accepted(&ty, &numeric(0, special, 0, &[])); // NaN, +Infinity, -Infinity
    }
    rejected(
        &ty,
        &numeric(0, 0x1234, 0, &[1]),
        "invalid numeric sign 0x1234",
    );
    rejected(&ty, &numeric(0, 0x8000, 0, &[1]), "invalid numeric sign");
    rejected(&ty, &numeric(0, 0, 0x4000, &[1]), "invalid numeric scale");
    rejected(
        &ty,
        &numeric(0, 0, 0, &[10_000]),
        "invalid numeric digit 10000",
    );
    rejected(&ty, &numeric(0, 0, 0, &[1, -1]), "invalid numeric digit -1");
    // A digit count that does not match the length, however large, is refused by length.
    let mut short = numeric(0, 0, 0, &[1, 2]);
    short.truncate(10);
    rejected(&ty, &short, "10 bytes, expected 12 for 2 numeric digits");
    let mut huge = numeric(0, 0, 0, &[]);
    huge[..2].copy_from_slice(&u16::MAX.to_be_bytes());
    rejected(&ty, &huge, "expected 131078 for 65535 numeric digits");
    rejected(&ty, &[0, 0, 0], "3 bytes, expected at least 8");
    rejected(&ty, &[], "0 bytes, expected at least 8");
}

#[test]
fn domains_are_checked_as_their_base_type() {
    let positive = Type::new(
        "positive".into(),
        0,
        Kind::Domain(Type::INT8),
        "public".into(),
    );
    accepted(&positive, &5i64.to_be_bytes());
    rejected(&positive, &5i32.to_be_bytes(), "4 bytes, expected 8");
    let nested = Type::new("small".into(), 0, Kind::Domain(positive), "public".into());
    rejected(&nested, &5i32.to_be_bytes(), "4 bytes, expected 8");
    let label = Type::new("label".into(), 0, Kind::Domain(Type::TEXT), "public".into());
    rejected(&label, b"a\0", "NUL byte");
}

#[test]
fn enums_and_citext_are_text() {
    let mood = Type::new(
        "mood".into(),
        0,
        Kind::Enum(vec!["ok".into(), "sad".into()]),
        "public".into(),
    );
    accepted(&mood, b"ok");
    // Whether the label exists is the server's to say.
    accepted(&mood, b"not a label");
    rejected(&mood, b"o\0k", "NUL byte");
    let citext = Type::new("citext".into(), 0, Kind::Simple, "public".into());
    accepted(&citext, "Ådä".as_bytes());
    rejected(&citext, &[0xFF], "not UTF-8");
}

#[test]
fn unknown_types_are_left_to_the_server() {
    let vector = Type::new("vector".into(), 0, Kind::Simple, "public".into());
    for ty in [
        vector,
        Type::BYTEA,
        Type::INT4_ARRAY,
        Type::INT4_RANGE,
        Type::XML,
    ] {
        accepted(&ty, &[]);
        accepted(&ty, &[0, 0xFF, 0, 1, 2]);
    }
}
