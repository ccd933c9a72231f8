//! `/docs`: the API reference, rendered from the OpenAPI document the server serves at
//! `/api/openapi.json` (no external scripts).

use leptos::prelude::*;
use leptos_meta::Title;
use serde_json::Value;

use crate::api::docs::get_api_doc;
use crate::components::live::{use_live, Loaded};
use crate::components::ui::{ErrorText, CARD};

/// One operation of the document.
#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    pub method: String,
    pub path: String,
    pub tag: String,
    pub summary: String,
    pub description: String,
    pub params: Vec<(String, String, bool)>,
    pub body: Option<String>,
    pub responses: Vec<(String, String)>,
}

fn schema_name(v: &Value) -> Option<String> {
    let content = v.get("content")?.get("application/json")?.get("schema")?;
    let r = content.get("$ref").or_else(|| content.get("items").and_then(|i| i.get("$ref")))?.as_str()?;
    let name = r.rsplit('/').next()?.to_owned();
    Some(if content.get("items").is_some() { format!("{name}[]") } else { name })
}

/// The operations of an OpenAPI document, in document order, grouped by their first tag.
pub fn operations(doc: &Value) -> Vec<Operation> {
    let mut out = Vec::new();
    let Some(paths) = doc.get("paths").and_then(Value::as_object) else { return out };
    for (path, item) in paths {
        let Some(item) = item.as_object() else { continue };
        for method in ["get", "post", "patch", "put", "delete"] {
            let Some(op) = item.get(method) else { continue };
            let text = |k: &str| op.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
            let params = op
                .get("parameters")
                .and_then(Value::as_array)
                .map(|ps| {
                    ps.iter()
                        .map(|p| {
                            let s = |k: &str| p.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
                            (s("name"), s("in"), p.get("required").and_then(Value::as_bool).unwrap_or(false))
                        })
                        .collect()
                })
                .unwrap_or_default();
            let responses = op
                .get("responses")
                .and_then(Value::as_object)
                .map(|rs| {
                    rs.iter()
                        .map(|(code, r)| {
                            let d = r.get("description").and_then(Value::as_str).unwrap_or("").to_owned();
                            (code.clone(), schema_name(r).map(|n| format!("{d} {n}").trim().to_owned()).unwrap_or(d))
                        })
                        .collect()
                })
                .unwrap_or_default();
            out.push(Operation {
                method: method.to_uppercase(),
                path: path.clone(),
                tag: op.get("tags").and_then(|t| t.get(0)).and_then(Value::as_str).unwrap_or("other").to_owned(),
                summary: text("summary"),
                description: text("description"),
                params,
                body: op.get("requestBody").and_then(schema_name),
                responses,
            });
        }
    }
    out.sort_by(|a, b| a.tag.cmp(&b.tag));
    out
}

fn method_class(m: &str) -> &'static str {
    match m {
        "GET" => "bg-sky-100 text-sky-800",
        "POST" => "bg-emerald-100 text-emerald-800",
        "PATCH" | "PUT" => "bg-amber-100 text-amber-800",
        _ => "bg-red-100 text-red-800",
    }
}

/// The API reference.
#[component]
pub fn DocsPage() -> impl IntoView {
    // Rendered on the server and carried into the page for hydration; fetched only when the
    // browser arrives here by client-side navigation.
    let rendered = SharedValue::new(|| {
        #[cfg(feature = "ssr")]
        {
            crate::api::ctx::state().ok().map(|state| (*state.api_doc).clone())
        }
        #[cfg(not(feature = "ssr"))]
        None::<Value>
    })
    .into_inner();
    let have = rendered.is_some();
    let fetched = use_live(
        || (),
        move |_| async move {
            if have {
                None
            } else {
                Some(get_api_doc().await)
            }
        },
    );
    let doc = Signal::derive(move || match &rendered {
        Some(doc) => Some(Ok(doc.clone())),
        None => fetched.get().flatten(),
    });
    view! {
        <Title text="Meeboter API" />
        <div class="max-w-4xl">
            <h1 class="text-3xl font-bold tracking-tight">"Meeboter API"</h1>
            <p class="mt-3 text-slate-600">
                "Create, watch and stop meeting bots from your own programs. Send an API key from the API Keys page in the "
                <code class="rounded bg-slate-100 px-1">"x-api-key"</code> " header or as "
                <code class="rounded bg-slate-100 px-1">"Authorization: Bearer <key>"</code> ". Errors are "
                <code class="rounded bg-slate-100 px-1">"{\"error\": {\"code\", \"message\", \"details\"}}"</code>
                ". The machine-readable document is at "
                <a href="/api/openapi.json" class="font-medium text-indigo-600 hover:text-indigo-500" rel="external">
                    "/api/openapi.json"
                </a> "."
            </p>
            <pre class="mt-4 overflow-x-auto rounded-xl bg-slate-900 p-4 text-xs text-slate-100">
                "curl -H 'x-api-key: mbk_…' -H 'content-type: application/json' \\\n     -d '{\"meetingUrl\": \"https://meet.google.com/abc-defg-hij\"}' \\\n     http://127.0.0.1:3000/api/v1/bots"
            </pre>
            <Loaded
                data=doc
                fallback=|| {
                    view! { <p class="mt-6 text-sm text-slate-500">"Loading the reference…"</p> }
                }
                let:loaded
            >
                {match loaded {
                    Ok(doc) => {
                        let ops = operations(&doc);
                        view! {
                            <div class="mt-8 space-y-3" data-testid="operations">
                                {ops
                                    .into_iter()
                                    .map(|op| {
                                        view! {
                                            <section class=CARD>
                                                <div class="flex flex-wrap items-center gap-2">
                                                    <span class=format!(
                                                        "rounded px-2 py-0.5 font-mono text-xs font-bold {}",
                                                        method_class(&op.method),
                                                    )>{op.method.clone()}</span>
                                                    <code class="font-mono text-sm font-semibold">
                                                        {op.path.clone()}
                                                    </code>
                                                    <span class="ml-auto text-xs uppercase tracking-wide text-slate-400">
                                                        {op.tag.clone()}
                                                    </span>
                                                </div>
                                                <p class="mt-2 text-sm text-slate-800">{op.summary.clone()}</p>
                                                {(!op.description.is_empty())
                                                    .then(|| {
                                                        view! {
                                                            <p class="mt-1 text-sm text-slate-600">
                                                                {op.description.clone()}
                                                            </p>
                                                        }
                                                    })}
                                                <dl class="mt-2 grid gap-1 text-xs text-slate-600 sm:grid-cols-[8rem_1fr]">
                                                    {(!op.params.is_empty())
                                                        .then(|| {
                                                            view! {
                                                                <dt class="font-semibold">"Parameters"</dt>
                                                                <dd>
                                                                    {op
                                                                        .params
                                                                        .iter()
                                                                        .map(|(n, at, req)| {
                                                                            format!(
                                                                                "{n} ({at}{})",
                                                                                if *req { ", required" } else { "" },
                                                                            )
                                                                        })
                                                                        .collect::<Vec<_>>()
                                                                        .join(", ")}
                                                                </dd>
                                                            }
                                                        })}
                                                    {op
                                                        .body
                                                        .clone()
                                                        .map(|b| {
                                                            view! {
                                                                <dt class="font-semibold">"Body"</dt>
                                                                <dd class="font-mono">{b}</dd>
                                                            }
                                                        })} <dt class="font-semibold">"Responses"</dt>
                                                    <dd>
                                                        {op
                                                            .responses
                                                            .iter()
                                                            .map(|(c, d)| format!("{c} {d}"))
                                                            .collect::<Vec<_>>()
                                                            .join(" · ")}
                                                    </dd>
                                                </dl>
                                            </section>
                                        }
                                    })
                                    .collect_view()}
                            </div>
                        }
                            .into_any()
                    }
                    Err(e) => view! { <ErrorText message=e.to_string() /> }.into_any(),
                }}
            </Loaded>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_are_read_from_the_document() {
        let doc = serde_json::json!({
            "paths": {
                "/api/v1/bots": {
                    "get": { "tags": ["bots"], "summary": "List", "parameters": [{ "name": "page", "in": "query" }],
                             "responses": { "200": { "description": "ok", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Page_Bot" } } } } } },
                    "post": { "tags": ["bots"], "summary": "Create",
                              "requestBody": { "content": { "application/json": { "schema": { "$ref": "#/components/schemas/CreateBot" } } } },
                              "responses": {} }
                }
            }
        });
        let ops = operations(&doc);
        assert_eq!(ops.len(), 2);
        assert_eq!(ops[0].method, "GET");
        assert_eq!(ops[0].params, vec![("page".to_owned(), "query".to_owned(), false)]);
        assert_eq!(ops[0].responses, vec![("200".to_owned(), "ok Page_Bot".to_owned())]);
        assert_eq!(ops[1].body.as_deref(), Some("CreateBot"));
    }
}
