//! Stateless randomness: every value is a pure function of (seed, namespace, index), so nothing
//! generated has to be remembered to be referenced later.

/// Namespaces of derived values. Each id namespace yields its own UUIDs.
#[derive(Debug, Clone, Copy)]
#[repr(u64)]
pub(crate) enum Ns {
    District = 1,
    School = 2,
    Session = 3,
    Course = 4,
    Class = 5,
    Student = 6,
    Teacher = 7,
    StudentRole = 8,
    TeacherRole = 9,
    StudentEnrollment = 10,
    TeacherEnrollment = 11,
    StudentMaster = 12,
    TeacherMaster = 13,
    /// Attributes (name, sex, birth date) of a student.
    StudentAttr = 20,
    /// Attributes (name, sex) of a teacher.
    TeacherAttr = 21,
    /// Relative size of a school.
    SchoolSize = 22,
    /// District-wide choices.
    DistrictAttr = 23,
}

/// The splitmix64 finaliser: a bijection on u64 with good avalanche.
#[inline]
pub(crate) fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// 64 pseudo-random bits for (seed, namespace, index, lane). For a fixed (seed, namespace, lane)
/// the map index → value is a bijection, so values never repeat within a namespace.
#[inline]
pub(crate) fn hash(seed: u64, ns: Ns, index: u64, lane: u64) -> u64 {
    let base = mix64(
        seed ^ mix64(
            (ns as u64).wrapping_mul(0xd6e8_feb8_6659_fd93)
                ^ lane.wrapping_mul(0xa076_1d64_78bd_642f),
        ),
    );
    mix64(base.wrapping_add(index.wrapping_mul(0x9e37_79b9_7f4a_7c15)))
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// A lower-case hyphenated UUID version 4 (variant 10xx) derived from (seed, namespace, index).
pub(crate) fn uuid(seed: u64, ns: Ns, index: u64) -> [u8; 36] {
    let hi = hash(seed, ns, index, 0);
    let lo = hash(seed, ns, index, 1);
    let mut v = (u128::from(hi) << 64) | u128::from(lo);
    v = (v & !(0xf << 76)) | (0x4 << 76);
    v = (v & !(0x3 << 62)) | (0x2 << 62);
    let mut out = [b'-'; 36];
    let mut pos = 0;
    for nibble in 0..32 {
        if matches!(pos, 8 | 13 | 18 | 23) {
            pos += 1;
        }
        out[pos] = HEX[((v >> (124 - 4 * nibble)) & 0xf) as usize];
        pos += 1;
    }
    out
}

pub(crate) use crate::domain::datetime::{civil_from_days, days_from_civil};
