//! Reusable view pieces.

pub mod badges;
pub mod dialog;
pub mod errors;
pub mod form;
pub mod layout;
pub mod live;
pub mod protected;
pub mod shown_once;
pub mod time;
pub mod toast;
pub mod ui;
