//! Writing lines into the page.

use wasm_bindgen::JsValue;

fn document() -> Result<web_sys::Document, JsValue> {
    web_sys::window()
        .and_then(|w| w.document())
        .ok_or_else(|| JsValue::from_str("no document"))
}

/// Appends `<li id=.. class=..>text</li>` to the list `#list`.
pub fn line(list: &str, id: &str, class: &str, text: &str) -> Result<(), JsValue> {
    let document = document()?;
    let list = document
        .get_element_by_id(list)
        .ok_or_else(|| JsValue::from_str("the page has no list"))?;
    let item = document.create_element("li")?;
    if !id.is_empty() {
        item.set_id(id);
    }
    item.set_class_name(class);
    item.set_text_content(Some(text));
    list.append_child(&item)?;
    Ok(())
}

/// Sets the text of the element `id`.
pub fn set_text(id: &str, text: &str) -> Result<(), JsValue> {
    if let Some(element) = document()?.get_element_by_id(id) {
        element.set_text_content(Some(text));
    }
    Ok(())
}
