//! Tables that fit the terminal (issue 20): each column has a priority, and **columns drop
//! lowest priority first** until the rest fit at their minimum widths, so 80 columns keep
//! what matters most and a wide terminal shows everything. The kept columns stay in their
//! order.

use ratatui::layout::Constraint;

/// One column of a fitted table.
pub(super) struct Column {
    pub(super) header: String,
    pub(super) width: Constraint,
    /// The fewest cells it needs.
    pub(super) min: u16,
    /// 0 is kept longest.
    pub(super) priority: u8,
}

impl Column {
    /// A column of exactly `width` cells.
    pub(super) fn fixed(header: impl Into<String>, width: u16, priority: u8) -> Column {
        Column {
            header: header.into(),
            width: Constraint::Length(width),
            min: width,
            priority,
        }
    }

    /// A column of at least `min` cells that takes what is left.
    pub(super) fn wide(header: impl Into<String>, min: u16, priority: u8) -> Column {
        Column {
            header: header.into(),
            width: Constraint::Min(min),
            min,
            priority,
        }
    }
}

/// The columns that fit in `width` cells (one between columns), in order, with their widths:
/// fixed ones as asked, and what is left shared by the wide ones (the first gets the rest).
pub(super) fn fit(columns: &[Column], width: u16) -> Vec<(usize, Constraint)> {
    let mut by_priority: Vec<usize> = (0..columns.len()).collect();
    by_priority.sort_by_key(|&i| (columns[i].priority, i));
    let mut used: u32 = 0;
    let mut kept = Vec::new();
    for i in by_priority {
        let gap = u32::from(!kept.is_empty());
        let needed = used + gap + u32::from(columns[i].min);
        if needed <= u32::from(width) {
            used = needed;
            kept.push(i);
        }
    }
    kept.sort_unstable();
    let wide: Vec<usize> = kept
        .iter()
        .copied()
        .filter(|&i| matches!(columns[i].width, Constraint::Min(_)))
        .collect();
    let spare = u32::from(width).saturating_sub(used);
    let count = u32::try_from(wide.len()).unwrap_or(u32::MAX).max(1);
    let (share, rest) = (spare / count, spare % count);
    kept.into_iter()
        .map(|i| {
            let column = &columns[i];
            let extra = match wide.iter().position(|&w| w == i) {
                None => 0,
                Some(0) => share + rest,
                Some(_) => share,
            };
            let extra = u16::try_from(extra).unwrap_or(u16::MAX);
            (i, Constraint::Length(column.min.saturating_add(extra)))
        })
        .collect()
}

/// `cells` without the columns `fit` dropped.
pub(super) fn keep<T: Clone>(cells: &[T], kept: &[(usize, Constraint)]) -> Vec<T> {
    kept.iter()
        .filter_map(|(i, _)| cells.get(*i).cloned())
        .collect()
}

/// The widths and headers of the kept columns.
pub(super) fn heads(
    columns: &[Column],
    kept: &[(usize, Constraint)],
) -> (Vec<Constraint>, Vec<String>) {
    kept.iter()
        .map(|&(i, width)| (width, columns[i].header.clone()))
        .unzip()
}
