//! The shape of the district: schools, grades, homerooms and how many students sit in each.
//! Only per-school numbers are kept (about one entry per 400 students); everything per row is
//! derived while writing.

use super::hash::{Ns, hash};

/// Students per school on average.
const STUDENTS_PER_SCHOOL: u64 = 400;
/// Most students in one homeroom (the 35-人学級 of Japanese public schools).
const CLASS_SIZE: u64 = 35;
/// Most students in a special-needs class (特別支援学級: 8).
const SPECIAL_NEEDS_MAX: u64 = 8;

pub(crate) const ELEMENTARY_GRADES: [&str; 6] = ["P1", "P2", "P3", "P4", "P5", "P6"];
pub(crate) const JUNIOR_GRADES: [&str; 3] = ["J1", "J2", "J3"];

#[derive(Debug, Clone)]
pub(crate) struct School {
    /// 中学校 (J1–J3) rather than 小学校 (P1–P6).
    pub junior: bool,
    /// 1-based number among schools of the same kind (第三小学校 → 3).
    pub number: u64,
    /// Index among all schools.
    pub index: u64,
    pub first_student: u64,
    pub first_class: u64,
    pub first_course: u64,
    /// Students per grade in regular homerooms.
    pub grade_students: [u64; 6],
    /// Students in the special-needs class (0: the school has none).
    pub special_needs: u64,
}

/// One homeroom of a school.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClassSlot {
    /// Global class index (also the index of its homeroom teacher).
    pub index: u64,
    /// Grade index within the school kind; `None` for the special-needs class.
    pub grade: Option<usize>,
    /// 組 number within the grade (1-based).
    pub number: u64,
    pub first_student: u64,
    pub size: u64,
    /// Global course index.
    pub course: u64,
}

impl School {
    pub fn grades(&self) -> &'static [&'static str] {
        if self.junior {
            &JUNIOR_GRADES
        } else {
            &ELEMENTARY_GRADES
        }
    }

    /// Grade-age offset of grade index 0 (P1 → 0, J1 → 6).
    pub fn age_offset(&self) -> u64 {
        if self.junior { 6 } else { 0 }
    }

    pub fn course_count(&self) -> u64 {
        self.grades().len() as u64 + u64::from(self.special_needs > 0)
    }

    /// Grade indices present in the special-needs class.
    pub fn special_needs_grades(&self) -> usize {
        (self.special_needs as usize).min(self.grades().len())
    }

    /// The grade index of the `j`-th student of the special-needs class.
    pub fn special_needs_grade(&self, j: u64) -> usize {
        (j % self.grades().len() as u64) as usize
    }

    /// The homerooms in order: grade by grade, 1組 first, then the special-needs class.
    pub fn classes(&self) -> Vec<ClassSlot> {
        let mut out = Vec::new();
        let mut student = self.first_student;
        let mut index = self.first_class;
        for (g, &n) in self.grade_students[..self.grades().len()]
            .iter()
            .enumerate()
        {
            let k = n.div_ceil(CLASS_SIZE);
            for c in 0..k {
                let size = n / k + u64::from(c < n % k);
                out.push(ClassSlot {
                    index,
                    grade: Some(g),
                    number: c + 1,
                    first_student: student,
                    size,
                    course: self.first_course + g as u64,
                });
                index += 1;
                student += size;
            }
        }
        if self.special_needs > 0 {
            out.push(ClassSlot {
                index,
                grade: None,
                number: 1,
                first_student: student,
                size: self.special_needs,
                course: self.first_course + self.grades().len() as u64,
            });
        }
        out
    }

    pub fn class_count(&self) -> u64 {
        let per_grade: u64 = self
            .grade_students
            .iter()
            .map(|n| n.div_ceil(CLASS_SIZE))
            .sum();
        per_grade + u64::from(self.special_needs > 0)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub schools: Vec<School>,
    pub students: u64,
    pub classes: u64,
    pub courses: u64,
}

impl Plan {
    pub fn new(students: u64, seed: u64) -> Plan {
        let count = (students + STUDENTS_PER_SCHOOL / 2) / STUDENTS_PER_SCHOOL;
        let count = count.max(1);
        // Relative sizes 70–130 %, cut exactly with cumulative integer weights.
        let weights: Vec<u64> = (0..count)
            .map(|s| 70 + hash(seed, Ns::SchoolSize, s, 0) % 61)
            .collect();
        let total: u128 = weights.iter().map(|&w| u128::from(w)).sum();
        let mut schools = Vec::with_capacity(count as usize);
        let (mut cum, mut first_student, mut first_class, mut first_course) =
            (0u128, 0u64, 0u64, 0u64);
        let (mut elementary, mut junior) = (0u64, 0u64);
        for (s, &w) in weights.iter().enumerate() {
            let start = (u128::from(students) * cum / total) as u64;
            cum += u128::from(w);
            let end = (u128::from(students) * cum / total) as u64;
            let n = end - start;
            // Two elementary schools for each junior high school.
            let is_junior = s % 3 == 2;
            let number = if is_junior {
                junior += 1;
                junior
            } else {
                elementary += 1;
                elementary
            };
            let special_needs = if n >= 150 {
                (n / 50).min(SPECIAL_NEEDS_MAX)
            } else {
                0
            };
            let regular = n - special_needs;
            let ng: u64 = if is_junior { 3 } else { 6 };
            let mut grade_students = [0u64; 6];
            for (g, slot) in grade_students.iter_mut().take(ng as usize).enumerate() {
                *slot = regular / ng + u64::from((g as u64) < regular % ng);
            }
            let school = School {
                junior: is_junior,
                number,
                index: s as u64,
                first_student,
                first_class,
                first_course,
                grade_students,
                special_needs,
            };
            first_student += n;
            first_class += school.class_count();
            first_course += school.course_count();
            schools.push(school);
        }
        Plan {
            schools,
            students,
            classes: first_class,
            courses: first_course,
        }
    }
}
