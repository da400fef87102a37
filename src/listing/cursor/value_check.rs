//! The shape check of a cursor's sort values: each value against its column's PostgreSQL type.
//!
//! A cursor signed with the built-in key can be forged (the key is in this source), so its values
//! are attacker-controlled bytes about to be bound as parameters. A value of the wrong width
//! reaches the server as a protocol error (08P01 "insufficient data left in message", 22P03
//! "incorrect binary data format"), text that is not UTF-8 or holds a NUL as an encoding error,
//! an out-of-range date as 22008. This module refuses such values first, so that they are an
//! invalid cursor and nothing is sent.
//!
//! It owns the binary formats' shapes: widths, text encodings, the jsonb version byte, the
//! numeric header, the ranges the server's receive functions enforce. It leaves meaning to the
//! server (an enum label that does not exist, JSON syntax, a numeric weight that overflows), and
//! accepts values of types it does not know (arrays, ranges, composites, extension types other
//! than `citext`): the server still validates those, with an error rather than a page.

use tokio_postgres::types::{Kind, Type};

/// Microseconds in a day: the largest `time` (`24:00:00`).
const USECS_PER_DAY: i64 = 86_400_000_000;
/// Days from the Julian day 0 (4714-11-24 BC, the server's earliest date) to 2000-01-01, the
/// epoch of binary dates and timestamps.
const POSTGRES_EPOCH_JDATE: i64 = 2_451_545;
/// The Julian day after the last valid date (`DATE_END_JULIAN`, 5874898-01-01).
const DATE_END_JULIAN: i64 = 2_147_483_494;
/// The Julian day after the last valid timestamp (`TIMESTAMP_END_JULIAN`, 294277-01-01).
const TIMESTAMP_END_JULIAN: i64 = 109_203_528;
/// A `timetz`'s zone displacement is less than this many seconds either way (`TZDISP_LIMIT`,
/// 16 hours).
const TZDISP_LIMIT: u32 = 16 * 3600;
/// The sign words a binary numeric may carry: positive, negative, NaN, +Infinity, -Infinity.
const NUMERIC_SIGNS: [u16; 5] = [0x0000, 0x4000, 0xC000, 0xD000, 0xF000];
/// The bits a numeric's display scale may use.
const NUMERIC_DSCALE_MASK: u16 = 0x3FFF;
/// A numeric digit is base 10,000.
const NUMERIC_NBASE: i16 = 10_000;

/// Checks that `value` (not NULL) is a well-formed binary value of `ty`; the error says why
/// not. Domains are checked as their base type, enums as text; unknown types pass.
pub(crate) fn check(ty: &Type, value: &[u8]) -> Result<(), String> {
    match ty.kind() {
        Kind::Domain(base) => return check(base, value),
        Kind::Enum(_) => return text(value),
        _ => {}
    }
    match *ty {
        Type::BOOL => boolean(value),
        Type::CHAR => width(value, 1),
        Type::INT2 => width(value, 2),
        Type::INT4
        | Type::FLOAT4
        | Type::OID
        | Type::XID
        | Type::CID
        | Type::REGPROC
        | Type::REGPROCEDURE
        | Type::REGOPER
        | Type::REGOPERATOR
        | Type::REGCLASS
        | Type::REGTYPE
        | Type::REGCONFIG
        | Type::REGDICTIONARY
        | Type::REGNAMESPACE
        | Type::REGROLE
        | Type::REGCOLLATION => width(value, 4),
        Type::INT8 | Type::FLOAT8 | Type::MONEY | Type::XID8 | Type::PG_LSN => width(value, 8),
        Type::UUID | Type::INTERVAL => width(value, 16),
        Type::DATE => date(value),
        Type::TIME => time(value),
        Type::TIMESTAMP | Type::TIMESTAMPTZ => timestamp(value),
        Type::TIMETZ => timetz(value),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::JSON => text(value),
        Type::JSONB => jsonb(value),
        Type::NUMERIC => numeric(value),
        // citext is an extension type (no fixed OID) sent as text.
        _ if ty.name() == "citext" => text(value),
        _ => Ok(()),
    }
}

fn width(value: &[u8], expected: usize) -> Result<(), String> {
    if value.len() == expected {
        Ok(())
    } else {
        Err(format!("{} bytes, expected {expected}", value.len()))
    }
}

/// `value` as an array of `N` bytes, after checking its width.
fn fixed<const N: usize>(value: &[u8]) -> Result<[u8; N], String> {
    width(value, N)?;
    let mut out = [0; N];
    out.copy_from_slice(value);
    Ok(out)
}

fn boolean(value: &[u8]) -> Result<(), String> {
    match fixed::<1>(value)? {
        [0 | 1] => Ok(()),
        [other] => Err(format!("a bool is 0 or 1, found {other}")),
    }
}

/// Text as the server receives it: the client encoding (always UTF-8 with tokio-postgres),
/// verified on arrival, with no NUL byte.
fn text(value: &[u8]) -> Result<(), String> {
    let text = std::str::from_utf8(value).map_err(|e| format!("not UTF-8 text ({e})"))?;
    if text.contains('\0') {
        return Err("text with a NUL byte".to_owned());
    }
    Ok(())
}

/// `jsonb`: the format version (1), then the JSON text.
fn jsonb(value: &[u8]) -> Result<(), String> {
    match value.split_first() {
        Some((1, json)) => text(json),
        Some((version, _)) => Err(format!("jsonb format version {version}, expected 1")),
        None => Err("0 bytes, expected the jsonb format version and text".to_owned()),
    }
}

/// `date`: days from 2000-01-01; `-infinity` and `infinity` are `i32::MIN` and `i32::MAX`.
fn date(value: &[u8]) -> Result<(), String> {
    let days = i32::from_be_bytes(fixed(value)?);
    let finite = -POSTGRES_EPOCH_JDATE..DATE_END_JULIAN - POSTGRES_EPOCH_JDATE;
    if days == i32::MIN || days == i32::MAX || finite.contains(&i64::from(days)) {
        Ok(())
    } else {
        Err(format!("date out of range ({days} days from 2000-01-01)"))
    }
}

fn time_of_day(micros: i64) -> Result<(), String> {
    if (0..=USECS_PER_DAY).contains(&micros) {
        Ok(())
    } else {
        Err(format!("time out of range ({micros} microseconds)"))
    }
}

/// `time`: microseconds since midnight, `00:00:00` to `24:00:00`.
fn time(value: &[u8]) -> Result<(), String> {
    time_of_day(i64::from_be_bytes(fixed(value)?))
}

/// `timetz`: a `time`, then the zone's displacement in seconds.
fn timetz(value: &[u8]) -> Result<(), String> {
    let bytes: [u8; 12] = fixed(value)?;
    let (micros, zone) = bytes.split_at(8);
    time_of_day(i64::from_be_bytes(micros.try_into().expect("8 bytes")))?;
    let zone = i32::from_be_bytes(zone.try_into().expect("4 bytes"));
    if zone.unsigned_abs() < TZDISP_LIMIT {
        Ok(())
    } else {
        Err(format!("time zone displacement out of range ({zone} s)"))
    }
}

/// `timestamp`, `timestamptz`: microseconds from 2000-01-01; the infinities are `i64::MIN`
/// and `i64::MAX`.
fn timestamp(value: &[u8]) -> Result<(), String> {
    let micros = i64::from_be_bytes(fixed(value)?);
    let finite = -POSTGRES_EPOCH_JDATE * USECS_PER_DAY
        ..(TIMESTAMP_END_JULIAN - POSTGRES_EPOCH_JDATE) * USECS_PER_DAY;
    if micros == i64::MIN || micros == i64::MAX || finite.contains(&micros) {
        Ok(())
    } else {
        Err(format!(
            "timestamp out of range ({micros} microseconds from 2000-01-01)"
        ))
    }
}

/// `numeric`: a header of four 16-bit words (digit count, weight, sign, display scale), then
/// the base-10,000 digits, as `numeric_recv` reads it.
fn numeric(value: &[u8]) -> Result<(), String> {
    let word = |i: usize| u16::from_be_bytes([value[2 * i], value[2 * i + 1]]);
    if value.len() < 8 {
        return Err(format!(
            "{} bytes, expected at least 8 (the numeric header)",
            value.len()
        ));
    }
    let (ndigits, sign, dscale) = (usize::from(word(0)), word(2), word(3));
    // Any weight is well-formed; the server reports one out of its range as an overflow.
    if value.len() != 8 + 2 * ndigits {
        return Err(format!(
            "{} bytes, expected {} for {ndigits} numeric digits",
            value.len(),
            8 + 2 * ndigits
        ));
    }
    if !NUMERIC_SIGNS.contains(&sign) {
        return Err(format!("invalid numeric sign {sign:#06x}"));
    }
    if dscale & !NUMERIC_DSCALE_MASK != 0 {
        return Err(format!("invalid numeric scale {dscale:#06x}"));
    }
    match (0..ndigits)
        .map(|i| word(4 + i) as i16)
        .find(|d| !(0..NUMERIC_NBASE).contains(d))
    {
        Some(digit) => Err(format!("invalid numeric digit {digit}")),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests;
