use super::*;

#[test]
fn the_plan_drops_the_least_essential_first() {
    // 80x24: the body less the tab bar, status bar and title.
    let small = plan(21, 2, 10);
    assert_eq!(small.head, 1);
    assert_eq!(small.certificates, 2);
    assert_eq!(small.listeners, 1);
    assert!(small.charts >= CHARTS, "a row per chart: {small:?}");
    assert!(small.lists >= 4, "{small:?}");
    let tiny = plan(9, 3, 10);
    assert_eq!((tiny.head, tiny.certificates, tiny.charts), (1, 1, 6));
    assert_eq!(
        (tiny.lists, tiny.listeners),
        (1, 0),
        "lists shrink, listeners go"
    );
    let big = plan(45, 1, 10);
    assert_eq!(big.charts, CHARTS * CHART_MAX);
    assert_eq!(
        big.lists,
        45 - 1 - 1 - 1 - 24,
        "the rest: every address and more"
    );
    assert_eq!(plan(0, 1, 0), plan(0, 9, 9));
}

#[test]
fn compressed_columns_keep_the_peaks_and_end_with_the_newest() {
    assert_eq!(compress(&[1, 2, 3], 10), [1, 2, 3]);
    assert_eq!(compress(&[5, 0, 0, 1, 0, 7], 3), [5, 1, 7]);
    assert_eq!(compress(&[9, 0, 0, 1, 2], 2), [9, 2]);
    assert!(compress(&[1, 2], 0).is_empty());
    assert_eq!(compress(&vec![1; 900], 50).len(), 50);
}
