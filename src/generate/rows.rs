//! The data rows of each file, in the column order of `domain::entity` (1.2.1 users shape) with
//! the Japan Profile metadata columns appended.

use std::io;

use super::hash::{Ns, civil_from_days, days_from_civil, hash};
use super::names::{self, kanji_number};
use super::plan::{ClassSlot, Plan, School};
use super::sink::Sink;

/// The school year (年度) of the bundle.
pub(crate) const SCHOOL_YEAR: i64 = 2025;
pub(crate) const DISTRICT_NAME: &str = "サンプル市";
pub(crate) const MAIL_DOMAIN: &str = "sample-city.example.ed.jp";

pub(crate) struct Gen<'p> {
    pub seed: u64,
    pub plan: &'p Plan,
    /// The district's 6-digit 地方公共団体コード.
    pub district_code: String,
    /// Writing the district's daily delta rather than its bulk files.
    pub delta: bool,
}

/// What the daily delta does to a student (see [`Gen::daily`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Daily {
    /// A new family name; the role gains a start date; the 出席番号 is no longer public.
    Changed,
    /// Left the district: user, role, enrollment and demographics `tobedeleted`.
    Withdrawn,
}

/// The `dateLastModified` of every delta row.
const DELTA_STAMP: &str = "2025-04-02T00:00:00.000Z";

/// A 6-digit local-government code for 東京都 (13) with its JIS X 0402 check digit.
pub(crate) fn district_code(seed: u64) -> String {
    let city = 201 + hash(seed, Ns::DistrictAttr, 0, 0) % 30;
    let five = format!("13{city:03}");
    let sum: u32 = five
        .bytes()
        .zip([6, 5, 4, 3, 2])
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    format!("{five}{}", (11 - sum % 11) % 10)
}

/// The MEXT 学校コード of a school: B1 (小学校) / C1 (中学校), 13 (東京都), 2 (公立), serial, check.
pub(crate) fn school_code(school: &School) -> String {
    let kind = if school.junior { "C1" } else { "B1" };
    let first12 = format!("{kind}132{:07}", school.index + 1);
    crate::domain::ids::SchoolCode::with_check_digit(&first12)
        .map(|c| c.as_str().to_owned())
        .unwrap_or_default()
}

pub(crate) fn school_name(school: &School) -> String {
    let kind = if school.junior {
        "中学校"
    } else {
        "小学校"
    };
    format!("{DISTRICT_NAME}立第{}{kind}", kanji_number(school.number))
}

impl Gen<'_> {
    /// The students a delta sends: 1 in 100 changed, 1 in 1,000 (others) withdrawn — for a
    /// million students 10,000 and 1,000, the daily delta of the performance benchmark.
    pub(crate) fn daily(idx: u64) -> Option<Daily> {
        match (idx % 100, idx % 1000) {
            (0, _) => Some(Daily::Changed),
            (_, 50) => Some(Daily::Withdrawn),
            _ => None,
        }
    }

    /// What this file run does to a member (`None`: a bulk row, or a teacher).
    fn state(&self, student: Option<u64>) -> Option<Daily> {
        student.filter(|_| self.delta).and_then(Self::daily)
    }

    /// The `status` and `dateLastModified` cells (with their leading separators): empty in a
    /// bulk file, as the binding allows.
    fn lead(sink: &mut Sink, state: Option<Daily>) {
        match state {
            None => sink.commas(2),
            Some(d) => {
                sink.raw(match d {
                    Daily::Changed => ",active,",
                    Daily::Withdrawn => ",tobedeleted,",
                });
                sink.raw(DELTA_STAMP);
            }
        }
    }

    fn school_id(&self, sink: &mut Sink, school: &School) {
        sink.uuid(self.seed, Ns::School, school.index);
    }

    fn session_id(&self, sink: &mut Sink) {
        sink.uuid(self.seed, Ns::Session, 0);
    }

    pub fn orgs(&self, sink: &mut Sink) -> io::Result<()> {
        sink.uuid(self.seed, Ns::District, 0);
        sink.commas(3);
        sink.text(&format!("{DISTRICT_NAME}教育委員会"));
        sink.raw(",district,");
        sink.raw(&self.district_code);
        sink.comma();
        sink.end_row()?;
        for school in &self.plan.schools {
            self.school_id(sink, school);
            sink.commas(3);
            sink.text(&school_name(school));
            sink.raw(",school,");
            sink.raw(&school_code(school));
            sink.comma();
            sink.uuid(self.seed, Ns::District, 0);
            sink.end_row()?;
        }
        Ok(())
    }

    pub fn academic_sessions(&self, sink: &mut Sink) -> io::Result<()> {
        self.session_id(sink);
        let y = SCHOOL_YEAR;
        sink.raw(&format!(
            ",,,{y}年度,schoolYear,{y}-04-01,{}-03-31,,{y}",
            y + 1
        ));
        sink.end_row()
    }

    pub fn courses(&self, sink: &mut Sink) -> io::Result<()> {
        for school in &self.plan.schools {
            let grades = school.grades();
            for (g, grade) in grades.iter().enumerate() {
                sink.uuid(self.seed, Ns::Course, school.first_course + g as u64);
                sink.commas(3);
                self.session_id(sink);
                sink.raw(&format!(",{SCHOOL_YEAR}年度 {}年,,", g + 1));
                sink.raw(grade);
                sink.comma();
                self.school_id(sink, school);
                sink.commas(2);
                sink.end_row()?;
            }
            if school.special_needs > 0 {
                sink.uuid(
                    self.seed,
                    Ns::Course,
                    school.first_course + grades.len() as u64,
                );
                sink.commas(3);
                self.session_id(sink);
                sink.raw(&format!(",{SCHOOL_YEAR}年度 特別支援学級,,"));
                sink.list(&grades[..school.special_needs_grades()]);
                sink.comma();
                self.school_id(sink, school);
                sink.commas(2);
                sink.end_row()?;
            }
        }
        Ok(())
    }

    pub fn classes(&self, sink: &mut Sink) -> io::Result<()> {
        for school in &self.plan.schools {
            let grades = school.grades();
            for class in school.classes() {
                sink.uuid(self.seed, Ns::Class, class.index);
                sink.commas(3);
                match class.grade {
                    Some(g) => {
                        sink.raw(&format!("{}年{}組,", g + 1, class.number));
                        sink.raw(grades[g]);
                    }
                    None => {
                        sink.raw(if school.junior {
                            "あおぞら学級,"
                        } else {
                            "なかよし学級,"
                        });
                        sink.list(&grades[..school.special_needs_grades()]);
                    }
                }
                sink.comma();
                sink.uuid(self.seed, Ns::Course, class.course);
                sink.raw(",,homeroom,,");
                self.school_id(sink, school);
                sink.comma();
                self.session_id(sink);
                sink.raw(if class.grade.is_some() {
                    ",,,,false"
                } else {
                    ",,,,true"
                });
                sink.end_row()?;
            }
        }
        Ok(())
    }

    /// Grade index of the `j`-th student of a class.
    fn grade_of(school: &School, class: &ClassSlot, j: u64) -> usize {
        class.grade.unwrap_or_else(|| school.special_needs_grade(j))
    }

    /// One users.csv row (29 columns).
    fn user(
        &self,
        sink: &mut Sink,
        school: &School,
        class: &ClassSlot,
        student: Option<u64>,
    ) -> io::Result<()> {
        let (ns, master, attr, idx, letter, width) = match student {
            Some(j) => (
                Ns::Student,
                Ns::StudentMaster,
                Ns::StudentAttr,
                class.first_student + j,
                "S",
                7,
            ),
            None => (
                Ns::Teacher,
                Ns::TeacherMaster,
                Ns::TeacherAttr,
                class.index,
                "T",
                6,
            ),
        };
        let ((mut family, mut kana_family), (given, kana_given), _) =
            names::pick(hash(self.seed, attr, idx, 0), student.is_none());
        let state = self.state(student.map(|j| class.first_student + j));
        if state == Some(Daily::Changed) {
            (family, kana_family) = names::another_family((family, kana_family));
        }
        let lower = if student.is_some() { "s" } else { "t" };
        sink.uuid(self.seed, ns, idx);
        Self::lead(sink, state);
        sink.raw(",true,");
        sink.raw(lower);
        sink.num(idx + 1, width);
        sink.raw("@");
        sink.raw(MAIL_DOMAIN);
        sink.raw(",{Koumu:");
        sink.raw(letter);
        sink.num(idx + 1, width);
        sink.raw("},");
        sink.raw(given);
        sink.comma();
        sink.raw(family);
        sink.commas(2);
        sink.raw(letter);
        sink.num(idx + 1, width);
        sink.comma();
        sink.raw(lower);
        sink.num(idx + 1, width);
        sink.raw("@");
        sink.raw(MAIL_DOMAIN);
        sink.commas(4);
        if let Some(j) = student {
            sink.raw(school.grades()[Self::grade_of(school, class, j)]);
        }
        sink.commas(2);
        sink.uuid(self.seed, master, idx);
        sink.comma();
        sink.raw(given);
        sink.commas(2);
        sink.raw(family);
        sink.comma();
        self.school_id(sink, school);
        sink.commas(2);
        sink.raw(kana_given);
        sink.comma();
        sink.raw(kana_family);
        sink.commas(2);
        sink.uuid(self.seed, Ns::Class, class.index);
        sink.comma();
        sink.raw(kana_family);
        sink.comma();
        sink.raw(kana_given);
        sink.comma();
        sink.end_row()
    }

    pub fn users(&self, sink: &mut Sink) -> io::Result<()> {
        self.each_member(sink, |g, sink, school, class, student| {
            g.user(sink, school, class, student)
        })
    }

    pub fn roles(&self, sink: &mut Sink) -> io::Result<()> {
        self.each_member(sink, |g, sink, school, class, student| {
            let (ns, role_ns, idx, role) = match student {
                Some(j) => (
                    Ns::Student,
                    Ns::StudentRole,
                    class.first_student + j,
                    "student",
                ),
                None => (Ns::Teacher, Ns::TeacherRole, class.index, "teacher"),
            };
            let state = g.state(student.map(|_| idx));
            sink.uuid(g.seed, role_ns, idx);
            Self::lead(sink, state);
            sink.comma();
            sink.uuid(g.seed, ns, idx);
            sink.raw(",primary,");
            sink.raw(role);
            if state == Some(Daily::Changed) {
                sink.raw(&format!(",{SCHOOL_YEAR}-04-01,,"));
            } else {
                sink.commas(3);
            }
            g.school_id(sink, school);
            sink.comma();
            sink.end_row()
        })
    }

    pub fn enrollments(&self, sink: &mut Sink) -> io::Result<()> {
        self.each_member(sink, |g, sink, school, class, student| {
            let (ns, enr_ns, idx) = match student {
                Some(j) => (Ns::Student, Ns::StudentEnrollment, class.first_student + j),
                None => (Ns::Teacher, Ns::TeacherEnrollment, class.index),
            };
            let state = g.state(student.map(|_| idx));
            sink.uuid(g.seed, enr_ns, idx);
            Self::lead(sink, state);
            sink.comma();
            sink.uuid(g.seed, Ns::Class, class.index);
            sink.comma();
            g.school_id(sink, school);
            sink.comma();
            sink.uuid(g.seed, ns, idx);
            match student {
                Some(j) => {
                    sink.raw(",student,false,,,");
                    sink.num(j + 1, 1);
                    sink.raw(if state == Some(Daily::Changed) {
                        ",false"
                    } else {
                        ",true"
                    });
                }
                None => sink.raw(",teacher,true,,,,"),
            }
            sink.end_row()
        })
    }

    pub fn demographics(&self, sink: &mut Sink) -> io::Result<()> {
        for school in &self.plan.schools {
            for class in school.classes() {
                for j in 0..class.size {
                    let idx = class.first_student + j;
                    let state = self.state(Some(idx));
                    if self.delta && state != Some(Daily::Withdrawn) {
                        continue;
                    }
                    let age = school.age_offset() + Self::grade_of(school, &class, j) as u64;
                    // Born 2 April (Y-7-age) … 1 April (Y-6-age) for 年度 Y.
                    let from = days_from_civil(SCHOOL_YEAR - 7 - age as i64, 4, 2);
                    let to = days_from_civil(SCHOOL_YEAR - 6 - age as i64, 4, 2);
                    let day = from
                        + (hash(self.seed, Ns::StudentAttr, idx, 1) % (to - from) as u64) as i64;
                    let (_, _, female) =
                        names::pick(hash(self.seed, Ns::StudentAttr, idx, 0), false);
                    sink.uuid(self.seed, Ns::Student, idx);
                    Self::lead(sink, state);
                    sink.comma();
                    sink.date(civil_from_days(day));
                    sink.raw(if female { ",female" } else { ",male" });
                    sink.commas(11);
                    sink.end_row()?;
                }
            }
        }
        Ok(())
    }

    /// Every class member in file order: per class its homeroom teacher, then its students by
    /// 出席番号. `student` is the 0-based seat within the class, `None` for the teacher. A delta
    /// has only the students it changes or withdraws.
    fn each_member<F>(&self, sink: &mut Sink, mut f: F) -> io::Result<()>
    where
        F: FnMut(&Self, &mut Sink, &School, &ClassSlot, Option<u64>) -> io::Result<()>,
    {
        for school in &self.plan.schools {
            for class in school.classes() {
                if !self.delta {
                    f(self, sink, school, &class, None)?;
                }
                for j in 0..class.size {
                    if !self.delta || Self::daily(class.first_student + j).is_some() {
                        f(self, sink, school, &class, Some(j))?;
                    }
                }
            }
        }
        Ok(())
    }
}
