//! A simulated district for `huddle demo`: schools, classes, teachers and students with
//! realistic names (a fixed, diverse list, picked by a seed), matching the simulator's
//! classes (student `i` is in class `i % classes`).

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

const FIRST_NAMES: &[&str] = &[
    "Maya", "Liam", "Aisha", "Mateo", "Sofia", "Noah", "Priya", "Elijah", "Chloe", "Kenji",
    "Amara", "Lucas", "Fatima", "Diego", "Hannah", "Omar", "Isabella", "Ethan", "Zoe", "Tariq",
    "Lily", "Santiago", "Mei", "Jayden", "Nadia", "Caleb", "Yara", "Gabriel", "Ava", "Kwame",
    "Emma", "Ravi", "Leah", "Jonah", "Camila", "Arjun", "Grace", "Mohammed", "Ruby", "Hiro",
    "Olivia", "Adebayo", "Elena", "Samuel", "Nia", "Felix", "Aaliyah", "Dmitri", "Ines", "Theo",
    "Layla", "Marcus", "Anika", "Julian", "Esme", "Kofi", "Lucia", "Owen", "Sana", "Wei",
];

const LAST_NAMES: &[&str] = &[
    "Garcia",
    "Nguyen",
    "Okafor",
    "Smith",
    "Patel",
    "Kim",
    "Johnson",
    "Hernandez",
    "Cohen",
    "Williams",
    "Haddad",
    "Brown",
    "Tanaka",
    "Lopez",
    "Mensah",
    "Rossi",
    "Kowalski",
    "Ali",
    "Martin",
    "Singh",
    "Anderson",
    "Chen",
    "Osei",
    "Murphy",
    "Rahman",
    "Silva",
    "Novak",
    "Jackson",
    "Ivanova",
    "Torres",
    "Dubois",
    "Yilmaz",
    "Park",
    "Adeyemi",
    "Walker",
    "Sato",
    "Moreno",
    "Khan",
    "Baker",
    "Lindqvist",
    "Mwangi",
    "Fischer",
    "Reyes",
    "Begay",
    "O'Brien",
    "Castillo",
    "Nakamura",
    "Abdi",
    "Jensen",
    "Chavez",
];

/// The six teachers (names apart from the students' lists).
const TEACHERS: &[(&str, &str)] = &[
    ("Amara", "Obi"),
    ("Daniel", "Kowalczyk"),
    ("Lucía", "Ferreira"),
    ("Priya", "Raman"),
    ("Tom", "Becker"),
    ("Grace", "Mbeki"),
];

/// Group labels kept for the fairness reports (a roster's `group` column).
const GROUPS: &[&str] = &["group-a", "group-b", "group-c"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct School {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Class {
    /// The id tools send in events.
    pub id: String,
    pub name: String,
    pub school_id: String,
    /// Index into [`District::teachers`].
    pub teacher: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub name: String,
    pub email: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pupil {
    pub student_id: String,
    pub name: String,
    /// Index into [`District::classes`].
    pub class: usize,
    pub group: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct District {
    pub org: String,
    pub schools: Vec<School>,
    pub classes: Vec<Class>,
    /// One per class.
    pub teachers: Vec<Person>,
    pub admin: Person,
    pub students: Vec<Pupil>,
}

/// A school's rooms: (class suffix, grade).
type Rooms = &'static [(&'static str, &'static str)];

/// (school id, school name, rooms): two schools, six classes.
const LAYOUT: &[(&str, &str, Rooms)] = &[
    (
        "riverside",
        "Riverside Elementary",
        &[("4a", "Grade 4"), ("4b", "Grade 4"), ("5a", "Grade 5")],
    ),
    (
        "hillcrest",
        "Hillcrest Elementary",
        &[("4a", "Grade 4"), ("5a", "Grade 5"), ("5b", "Grade 5")],
    ),
];

impl District {
    /// The district with `students` students (ids `stu-0001`… as the simulator names them),
    /// deterministic for `seed`.
    pub fn generate(students: usize, seed: u64) -> District {
        let mut rng = StdRng::seed_from_u64(seed);
        let people = full_names(&mut rng);
        let org = "demo-district".to_owned();
        let mut schools = Vec::new();
        let mut classes = Vec::new();
        let mut teachers = Vec::new();
        for (school, school_name, rooms) in LAYOUT {
            schools.push(School {
                id: format!("school-{school}"),
                name: (*school_name).to_owned(),
            });
            for (suffix, grade) in *rooms {
                let teacher = teachers.len();
                let (first, last) = TEACHERS[teacher % TEACHERS.len()];
                teachers.push(Person {
                    name: format!("{first} {last}"),
                    email: format!(
                        "{}.{}@{school}.example",
                        email_part(first),
                        email_part(last)
                    ),
                });
                classes.push(Class {
                    id: format!("{school}-{suffix}"),
                    name: format!("{grade} · {} ({last})", suffix.to_uppercase()),
                    school_id: format!("school-{school}"),
                    teacher,
                });
            }
        }
        let pupils = (0..students)
            .map(|i| {
                let (first, last) = people[i % people.len()];
                // Past the list's end (more students than names), a middle initial keeps
                // names distinct.
                let name = if i < people.len() {
                    format!("{first} {last}")
                } else {
                    let initial = char::from(b'A' + (i / people.len() % 26) as u8);
                    format!("{first} {initial}. {last}")
                };
                Pupil {
                    student_id: format!("stu-{:04}", i + 1),
                    name,
                    class: i % classes.len(),
                    group: GROUPS[i % GROUPS.len()].to_owned(),
                }
            })
            .collect();
        District {
            org,
            schools,
            classes,
            teachers,
            admin: Person {
                name: "Dana Whitfield".into(),
                email: "admin@district.example".into(),
            },
            students: pupils,
        }
    }
}

/// Every first × last name pair, shuffled: distinct full names, first names varied.
fn full_names(rng: &mut StdRng) -> Vec<(&'static str, &'static str)> {
    let mut first: Vec<&str> = FIRST_NAMES.to_vec();
    let mut last: Vec<&str> = LAST_NAMES.to_vec();
    first.shuffle(rng);
    last.shuffle(rng);
    // Diagonals of the first × last table: consecutive names share neither part.
    let mut out = Vec::with_capacity(first.len() * last.len());
    for shift in 0..last.len() {
        for (i, f) in first.iter().enumerate() {
            out.push((*f, last[(i + shift) % last.len()]));
        }
    }
    out
}

/// A name as the part of an email address: lower-case ASCII letters ("Lucía" → "lucia").
fn email_part(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'á' | 'à' | 'ä' | 'â' => 'a',
            'é' | 'è' | 'ë' | 'ê' => 'e',
            'í' | 'ì' | 'ï' | 'î' => 'i',
            'ó' | 'ò' | 'ö' | 'ô' => 'o',
            'ú' | 'ù' | 'ü' | 'û' => 'u',
            'ñ' => 'n',
            c => c,
        })
        .filter(char::is_ascii_alphabetic)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn two_schools_six_classes_each_with_a_teacher() {
        let d = District::generate(150, 7);
        assert_eq!(d.schools.len(), 2);
        assert_eq!(d.classes.len(), 6);
        assert_eq!(d.teachers.len(), 6);
        let emails: BTreeSet<&str> = d.teachers.iter().map(|t| t.email.as_str()).collect();
        assert_eq!(emails.len(), 6, "one account per teacher");
        assert!(d
            .classes
            .iter()
            .all(|c| d.schools.iter().any(|s| s.id == c.school_id)));
        assert!(emails.iter().all(|e| e.contains('@') && e.is_ascii()));
        assert!(
            emails.contains("lucia.ferreira@riverside.example"),
            "{emails:?}"
        );
    }

    #[test]
    fn students_have_distinct_names_and_follow_the_simulators_classes() {
        let d = District::generate(150, 7);
        assert_eq!(d.students.len(), 150);
        let names: BTreeSet<&str> = d.students.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names.len(), 150, "no two students share a name");
        let firsts: BTreeSet<&str> = d
            .students
            .iter()
            .filter_map(|s| s.name.split(' ').next())
            .collect();
        assert!(firsts.len() > 40, "varied first names: {}", firsts.len());
        for (i, s) in d.students.iter().enumerate() {
            assert_eq!(s.student_id, format!("stu-{:04}", i + 1));
            assert_eq!(s.class, i % 6);
        }
        let teacher_names: BTreeSet<&str> = d.teachers.iter().map(|t| t.name.as_str()).collect();
        assert!(
            teacher_names.is_disjoint(&names),
            "no student shares a teacher's name"
        );
    }

    #[test]
    fn the_same_seed_gives_the_same_district_and_many_students_stay_distinct() {
        assert_eq!(District::generate(30, 1), District::generate(30, 1));
        assert_ne!(
            District::generate(30, 1).students,
            District::generate(30, 2).students
        );
        let big = District::generate(4000, 3);
        let names: BTreeSet<&str> = big.students.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names.len(), 4000);
    }
}
