//! Reading `User=`/`Group=` from the unit and its drop-ins as systemd would.

use std::path::{Path, PathBuf};

use super::{Unit, apply, read_unit};

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn names(unit: &Unit) -> (Option<&str>, Option<&str>) {
    (
        unit.user.as_ref().map(|(u, _)| u.as_str()),
        unit.group.as_ref().map(|(g, _)| g.as_str()),
    )
}

#[test]
fn only_the_service_section_counts_and_the_last_assignment_wins() {
    let mut unit = Unit::default();
    let text = "[Unit]\nUser=wrong\n[Service]\n# User=comment\nUser = first\nUser=pop3d\n\
                Group=mail\n[Install]\nGroup=wrong\n";
    apply(text, Path::new("a"), &mut unit);
    assert_eq!(names(&unit), (Some("pop3d"), Some("mail")));
    // An empty assignment resets.
    apply("[Service]\nGroup=\n", Path::new("b"), &mut unit);
    assert_eq!(names(&unit), (Some("pop3d"), None));
}

#[test]
fn the_first_unit_file_then_every_drop_in_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let (etc, lib) = (dir.path().join("etc"), dir.path().join("lib"));
    // /etc's unit hides /lib's; drop-ins from both apply, by file name.
    write(&etc.join("pop3d.service"), "[Service]\nUser=etc-user\n");
    write(
        &lib.join("pop3d.service"),
        "[Service]\nUser=lib-user\nGroup=lib-group\n",
    );
    write(
        &lib.join("pop3d.service.d/20-group.conf"),
        "[Service]\nGroup=dropin-group\n",
    );
    write(
        &lib.join("pop3d.service.d/10-user.conf"),
        "[Service]\nUser=lib-dropin\n",
    );
    write(
        &etc.join("pop3d.service.d/10-user.conf"),
        "[Service]\nUser=etc-dropin\n",
    );
    write(
        &etc.join("pop3d.service.d/README"),
        "[Service]\nUser=not-a-conf\n",
    );
    let unit = read_unit(&[etc.clone(), lib.clone()]);
    assert_eq!(names(&unit), (Some("etc-dropin"), Some("dropin-group")));
    let where_from = |slot: &Option<(String, PathBuf)>| slot.as_ref().unwrap().1.clone();
    assert_eq!(
        where_from(&unit.user),
        etc.join("pop3d.service.d/10-user.conf")
    );
    assert_eq!(
        where_from(&unit.group),
        lib.join("pop3d.service.d/20-group.conf")
    );
    // Without /etc, /lib's unit and drop-ins.
    let unit = read_unit(&[lib]);
    assert_eq!(names(&unit), (Some("lib-dropin"), Some("dropin-group")));
}

#[test]
fn no_unit_no_user() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(read_unit(&[dir.path().join("none")]), Unit::default());
}

#[test]
fn continuation_lines_are_joined() {
    let mut unit = Unit::default();
    apply(
        "[Service]\nExecStart=/bin/pop3d \\\n  --config x\nUser=pop3d\n",
        Path::new("a"),
        &mut unit,
    );
    assert_eq!(names(&unit), (Some("pop3d"), None));
}
