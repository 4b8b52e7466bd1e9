//! What goes back: records and lists as XML or JSON (`render`, `lists`),
//! complete responses with their ETags (`respond`), the managers' page
//! (`html`), and the JSON writer.

pub mod answers;
pub mod html;
pub mod json;
pub mod lists;
pub mod render;
pub mod respond;
pub mod scim;
