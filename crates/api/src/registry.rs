//! The command registry: one [`CommandSpec`] per implemented API command. Binding turns the
//! raw parameter map into typed [`Args`] with CloudStack's checks and error texts, and the
//! same specs generate `listApis`.

use std::collections::{BTreeMap, HashMap};

use serde_json::{json, Value};
use uuid::Uuid;

use crate::error::{ApiError, ErrorCode};
use crate::params::RawParams;

/// Role masks for [`CommandSpec::roles`].
pub mod roles {
    pub const ADMIN: u8 = 1;
    pub const RESOURCE_ADMIN: u8 = 2;
    pub const DOMAIN_ADMIN: u8 = 4;
    pub const USER: u8 = 8;
    pub const ALL: u8 = ADMIN | RESOURCE_ADMIN | DOMAIN_ADMIN | USER;
    pub const ADMINS: u8 = ADMIN | RESOURCE_ADMIN | DOMAIN_ADMIN;
}

/// Parameter types as `listApis` names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamType {
    Boolean,
    Date,
    Float,
    Double,
    Integer,
    Short,
    Long,
    List,
    Map,
    String,
    Uuid,
}

impl ParamType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Boolean => "boolean",
            Self::Date => "date",
            Self::Float => "float",
            Self::Double => "double",
            Self::Integer => "integer",
            Self::Short => "short",
            Self::Long => "long",
            Self::List => "list",
            Self::Map => "map",
            Self::String => "string",
            Self::Uuid => "uuid",
        }
    }
}

/// One parameter of a command.
#[derive(Clone, Debug)]
pub struct ParamSpec {
    pub name: &'static str,
    pub ty: ParamType,
    pub required: bool,
    pub length: usize,
    pub description: &'static str,
    /// For lists: the element type (`Uuid` elements are validated).
    pub elem: Option<ParamType>,
    /// For dates: also accept `yyyy-MM-dd HH:mm:ss`.
    pub date_time: bool,
    pub related: &'static str,
}

/// One field of a response object, for `listApis`.
#[derive(Clone, Copy, Debug)]
pub struct Field {
    pub name: &'static str,
    pub ty: &'static str,
    pub description: &'static str,
}

/// Shorthand for building field tables.
pub const fn f(name: &'static str, ty: &'static str, description: &'static str) -> Field {
    Field {
        name,
        ty,
        description,
    }
}

/// One API command.
#[derive(Clone, Debug)]
pub struct CommandSpec {
    pub name: &'static str,
    pub description: &'static str,
    pub isasync: bool,
    /// Async "create" commands answer `{id, jobid}`: the entity exists before the job runs.
    pub creates: bool,
    /// Which role types may call it (bit mask of [`roles`]).
    pub roles: u8,
    /// List commands: paging rules apply and results are `{count, <key>: [...]}`.
    pub list: bool,
    pub params: Vec<ParamSpec>,
    /// The object name of the response (`domain`, `account`, …).
    pub response_key: &'static str,
    pub response: &'static [Field],
    /// Fields this command's objects carry beyond `response` (the metrics commands).
    pub response_extra: &'static [Field],
    pub related: &'static str,
    pub since: &'static str,
    /// The envelope key where CloudStack does not use `<name>response`.
    pub wrapper: Option<&'static str>,
}

impl CommandSpec {
    pub fn new(name: &'static str, description: &'static str) -> Self {
        Self {
            name,
            description,
            isasync: false,
            creates: false,
            roles: roles::ALL,
            list: false,
            params: Vec::new(),
            response_key: "",
            response: &[],
            response_extra: &[],
            related: "",
            since: "",
            wrapper: None,
        }
    }
    /// Answers under this envelope key instead of `<name>response` (CloudStack quirks).
    pub fn wrapper(mut self, key: &'static str) -> Self {
        self.wrapper = Some(key);
        self
    }
    pub fn asynchronous(mut self) -> Self {
        self.isasync = true;
        self
    }
    pub fn creates(mut self) -> Self {
        self.isasync = true;
        self.creates = true;
        self
    }
    pub fn roles(mut self, mask: u8) -> Self {
        self.roles = mask;
        self
    }
    pub fn returns(mut self, key: &'static str, fields: &'static [Field]) -> Self {
        self.response_key = key;
        self.response = fields;
        self
    }

    /// More fields beyond the object's usual ones (listVirtualMachinesMetrics…).
    pub fn returns_also(mut self, extra: &'static [Field]) -> Self {
        self.response_extra = extra;
        self
    }

    /// Every field this command's objects may carry.
    pub fn response_fields(&self) -> impl Iterator<Item = &'static Field> {
        self.response.iter().chain(self.response_extra)
    }
    pub fn related(mut self, related: &'static str) -> Self {
        self.related = related;
        self
    }
    fn param(
        mut self,
        name: &'static str,
        ty: ParamType,
        required: bool,
        description: &'static str,
    ) -> Self {
        self.params.push(ParamSpec {
            name,
            ty,
            required,
            length: 255,
            description,
            elem: None,
            date_time: false,
            related: "",
        });
        self
    }
    /// An optional parameter.
    pub fn opt(self, name: &'static str, ty: ParamType, description: &'static str) -> Self {
        self.param(name, ty, false, description)
    }
    /// A required parameter.
    pub fn req(self, name: &'static str, ty: ParamType, description: &'static str) -> Self {
        self.param(name, ty, true, description)
    }
    fn last(&mut self) -> &mut ParamSpec {
        let n = self.params.len();
        assert!(n > 0, "modifier before any parameter in {}", self.name);
        &mut self.params[n - 1]
    }
    /// Maximum length of the last parameter.
    pub fn len(mut self, length: usize) -> Self {
        self.last().length = length;
        self
    }
    /// Element type of the last (list) parameter.
    pub fn of(mut self, elem: ParamType) -> Self {
        self.last().elem = Some(elem);
        self
    }
    /// The last (date) parameter also accepts a time of day.
    pub fn with_time(mut self) -> Self {
        self.last().date_time = true;
        self
    }
    /// The APIs that return the entity the last parameter refers to.
    pub fn rel(mut self, related: &'static str) -> Self {
        self.last().related = related;
        self
    }
    /// Marks a list command: adds `keyword`, `page`, `pagesize`.
    pub fn list(mut self) -> Self {
        self.list = true;
        self.opt("keyword", ParamType::String, "List by keyword")
            .opt(
                "page",
                ParamType::Integer,
                "The page number of the result set (1-based)",
            )
            .opt(
                "pagesize",
                ParamType::Integer,
                "The number of items per page (-1 for all, at most default.page.size)",
            )
    }
    /// A list command scoped by owner: adds `account`, `domainid`, `isrecursive`, `listall`.
    pub fn owned_list(self) -> Self {
        self.list()
            .opt("account", ParamType::String, "List resources by account. Must be used with the domainId parameter.")
            .opt("domainid", ParamType::Uuid, "List only resources belonging to the domain specified")
            .rel("listDomains")
            .opt("isrecursive", ParamType::Boolean, "Defaults to false, but if true, lists all resources from the parent specified by the domainId till leaves.")
            .opt("listall", ParamType::Boolean, "If set to false, list only resources belonging to the command's caller; if set to true - list resources that the caller is authorized to see. Default value is false")
    }
    /// Whether the command changes anything (read-only roles may call only those that don't).
    pub fn mutates(&self) -> bool {
        !(self.name.starts_with("list")
            || self.name.starts_with("get")
            || self.name.starts_with("query"))
            || self.name == "getUserKeys"
    }

    /// The `listApis` entry.
    pub fn to_api_json(&self) -> Value {
        let params: Vec<Value> = self
            .params
            .iter()
            .map(|p| {
                let mut v = json!({
                    "name": p.name,
                    "description": p.description,
                    "type": p.ty.as_str(),
                    "length": p.length,
                    "required": p.required,
                });
                if !p.related.is_empty() {
                    v["related"] = json!(p.related);
                }
                v
            })
            .collect();
        let mut response: Vec<Value> = self
            .response
            .iter()
            .chain(self.response_extra)
            .map(|r| json!({"name": r.name, "description": r.description, "type": r.ty}))
            .collect();
        if self.isasync {
            response.push(json!({"name": "jobid", "description": "the UUID of the latest async job acting on this object", "type": "string"}));
            response.push(json!({"name": "jobstatus", "description": "the current status of the latest async job acting on this object", "type": "integer"}));
        }
        let mut v = json!({
            "name": self.name,
            "description": self.description,
            "isasync": self.isasync,
            "params": params,
            "response": response,
        });
        if !self.related.is_empty() {
            v["related"] = json!(self.related);
        }
        if !self.since.is_empty() {
            v["since"] = json!(self.since);
        }
        v
    }
}

/// A bound, type-checked parameter value.
#[derive(Clone, Debug, PartialEq)]
pub enum Arg {
    Str(String),
    Bool(bool),
    Int(i64),
    Float(f64),
    Uuid(Uuid),
    List(Vec<String>),
    /// `name[i].field=value`, ordered by index.
    Map(Vec<BTreeMap<String, String>>),
    /// Epoch milliseconds (UTC midnight for plain dates).
    Date(i64),
}

/// Paging of a list command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Page {
    pub offset: u64,
    /// `None` = unlimited (`pagesize=-1`).
    pub limit: Option<u64>,
}

impl Page {
    /// This page of an in-memory list.
    pub fn slice<T>(&self, items: Vec<T>) -> Vec<T> {
        items
            .into_iter()
            .skip(self.offset as usize)
            .take(self.limit.map(|l| l as usize).unwrap_or(usize::MAX))
            .collect()
    }
}

/// Bound arguments of one request.
#[derive(Clone, Debug)]
pub struct Args {
    pub command: &'static str,
    values: HashMap<&'static str, Arg>,
    /// Parameters sent with an empty value (which otherwise count as absent).
    empty: Vec<&'static str>,
    pub page: Page,
}

impl Args {
    /// Arguments built directly (internal callers and tests).
    pub fn from_values(command: &'static str, values: Vec<(&'static str, Arg)>) -> Self {
        Self {
            command,
            values: values.into_iter().collect(),
            empty: Vec::new(),
            page: Page {
                offset: 0,
                limit: None,
            },
        }
    }
    /// Whether the parameter was sent with an empty value (`hosttags=` to clear).
    pub fn given_empty(&self, name: &str) -> bool {
        self.empty.contains(&name)
    }
    pub fn has(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }
    pub fn str(&self, name: &str) -> Option<&str> {
        match self.values.get(name) {
            Some(Arg::Str(s)) => Some(s),
            _ => None,
        }
    }
    /// A non-empty string.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.str(name).filter(|s| !s.trim().is_empty())
    }
    pub fn bool(&self, name: &str) -> Option<bool> {
        match self.values.get(name) {
            Some(Arg::Bool(b)) => Some(*b),
            _ => None,
        }
    }
    pub fn flag(&self, name: &str) -> bool {
        self.bool(name).unwrap_or(false)
    }
    pub fn int(&self, name: &str) -> Option<i64> {
        match self.values.get(name) {
            Some(Arg::Int(i)) => Some(*i),
            _ => None,
        }
    }
    pub fn float(&self, name: &str) -> Option<f64> {
        match self.values.get(name) {
            Some(Arg::Float(f)) => Some(*f),
            Some(Arg::Int(i)) => Some(*i as f64),
            _ => None,
        }
    }
    pub fn uuid(&self, name: &str) -> Option<Uuid> {
        match self.values.get(name) {
            Some(Arg::Uuid(u)) => Some(*u),
            _ => None,
        }
    }
    /// A typed id (`DomainId`, `AccountId`, …).
    pub fn id<T: From<Uuid>>(&self, name: &str) -> Option<T> {
        self.uuid(name).map(T::from)
    }
    pub fn list(&self, name: &str) -> Option<&[String]> {
        match self.values.get(name) {
            Some(Arg::List(l)) => Some(l),
            _ => None,
        }
    }
    pub fn ids<T: From<Uuid>>(&self, name: &str) -> Option<Vec<T>> {
        self.list(name).map(|l| {
            l.iter()
                .filter_map(|s| Uuid::parse_str(s).ok())
                .map(T::from)
                .collect()
        })
    }
    pub fn map(&self, name: &str) -> Option<&[BTreeMap<String, String>]> {
        match self.values.get(name) {
            Some(Arg::Map(m)) => Some(m),
            _ => None,
        }
    }
    pub fn date(&self, name: &str) -> Option<i64> {
        match self.values.get(name) {
            Some(Arg::Date(d)) => Some(*d),
            _ => None,
        }
    }
    /// A required string, for handlers (binding already enforced presence).
    pub fn required_str(&self, name: &str) -> Result<&str, ApiError> {
        self.str(name)
            .ok_or_else(|| ApiError::missing_param(self.command, name))
    }
    pub fn required_id<T: From<Uuid>>(&self, name: &str) -> Result<T, ApiError> {
        self.id(name)
            .ok_or_else(|| ApiError::missing_param(self.command, name))
    }
}

fn has_control_chars(v: &str) -> bool {
    v.bytes()
        .any(|b| matches!(b, 0x00..=0x08 | 0x0B | 0x0C | 0x0E..=0x1F | 0x7F))
}

fn invalid_value(command: &str, name: &str, value: &str) -> ApiError {
    ApiError::param(format!(
        "Unable to execute API command {} due to invalid value {} for parameter {}",
        command.to_ascii_lowercase(),
        value,
        name
    ))
}

fn parse_uuid(v: &str) -> Option<Uuid> {
    if v.len() != 36 {
        return None;
    }
    Uuid::parse_str(v).ok()
}

fn malformed(key: &str) -> ApiError {
    ApiError::new(
        ErrorCode::MalformedParameter,
        format!("Unable to decode parameter {key}; if specifying an object array, please use parameter[index].field=XXX, e.g. userGroupList[0].group=httpGroup"),
    )
}

/// Splits `name[idx].field` into (lower-cased name, idx, field).
fn split_map_key(key: &str) -> Result<(String, u32, String), ApiError> {
    let open = key.find('[').ok_or_else(|| malformed(key))?;
    let close = key[open..]
        .find(']')
        .map(|c| c + open)
        .ok_or_else(|| malformed(key))?;
    let idx: u32 = key[open + 1..close].parse().map_err(|_| malformed(key))?;
    let rest = &key[close + 1..];
    let field = rest.strip_prefix('.').ok_or_else(|| malformed(key))?;
    if field.is_empty() || field.contains('[') || field.contains(']') || field.contains('.') {
        return Err(malformed(key));
    }
    Ok((key[..open].to_ascii_lowercase(), idx, field.to_string()))
}

impl CommandSpec {
    /// Binds raw parameters: control characters, map syntax, required parameters, types,
    /// lengths, and (for lists) the paging rules with `max_page_size`.
    pub fn bind(&'static self, raw: &RawParams, max_page_size: u64) -> Result<Args, ApiError> {
        for (n, v) in raw.entries() {
            if has_control_chars(v) {
                return Err(ApiError::param(format!(
                    "Received value {} for parameter {} is invalid, contains illegal ASCII non-printable characters",
                    v.escape_default(),
                    n
                )));
            }
        }
        // Indexed maps: every key with a bracket must be well formed, known or not.
        let mut maps: HashMap<String, BTreeMap<u32, BTreeMap<String, String>>> = HashMap::new();
        for (n, v) in raw.entries() {
            if n.contains('[') || n.contains(']') {
                let (name, idx, field) = split_map_key(n)?;
                maps.entry(name)
                    .or_default()
                    .entry(idx)
                    .or_default()
                    .entry(field)
                    .or_insert_with(|| v.clone());
            }
        }
        let mut values = HashMap::new();
        let mut empty = Vec::new();
        for p in &self.params {
            let raw_value = if p.ty == ParamType::Map {
                None
            } else {
                raw.get(p.name)
            };
            if p.ty == ParamType::Map {
                if let Some(m) = maps.remove(p.name) {
                    values.insert(p.name, Arg::Map(m.into_values().collect()));
                } else if p.required {
                    return Err(ApiError::missing_param(self.name, p.name));
                }
                continue;
            }
            let Some(v) = raw_value else {
                if p.required {
                    return Err(ApiError::missing_param(self.name, p.name));
                }
                continue;
            };
            let trimmed = v.trim();
            if trimmed.is_empty() && p.ty != ParamType::String {
                // Empty numbers, ids, booleans and lists count as absent.
                empty.push(p.name);
                if p.required {
                    return Err(ApiError::missing_param(self.name, p.name));
                }
                continue;
            }
            let arg = match p.ty {
                ParamType::String => {
                    if v.chars().count() > p.length {
                        return Err(ApiError::param(format!(
                            "Value greater than max allowed length {} for param: {}",
                            p.length, p.name
                        )));
                    }
                    Arg::Str(v.to_string())
                }
                ParamType::Boolean => Arg::Bool(trimmed.eq_ignore_ascii_case("true")),
                ParamType::Integer | ParamType::Short | ParamType::Long => {
                    let n: i64 = trimmed
                        .parse()
                        .map_err(|_| invalid_value(self.name, p.name, v))?;
                    let fits = match p.ty {
                        ParamType::Integer => i32::try_from(n).is_ok(),
                        ParamType::Short => i16::try_from(n).is_ok(),
                        _ => true,
                    };
                    if !fits {
                        return Err(invalid_value(self.name, p.name, v));
                    }
                    Arg::Int(n)
                }
                ParamType::Float | ParamType::Double => match trimmed.parse::<f64>() {
                    Ok(x) if x.is_finite() => Arg::Float(x),
                    _ => return Err(invalid_value(self.name, p.name, v)),
                },
                ParamType::Uuid => {
                    Arg::Uuid(parse_uuid(trimmed).ok_or_else(|| ApiError::invalid_id(p.name, v))?)
                }
                ParamType::Date => Arg::Date(
                    crate::time::parse_date_param(trimmed, p.date_time)
                        .ok_or_else(|| invalid_value(self.name, p.name, v))?,
                ),
                ParamType::List => {
                    let items: Vec<String> = v
                        .split(',')
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty())
                        .collect();
                    if p.elem == Some(ParamType::Uuid) {
                        for it in &items {
                            if parse_uuid(it).is_none() {
                                return Err(ApiError::invalid_id(p.name, it));
                            }
                        }
                    }
                    Arg::List(items)
                }
                ParamType::Map => continue,
            };
            values.insert(p.name, arg);
        }
        let page = if self.list {
            paging(&values, max_page_size)?
        } else {
            Page {
                offset: 0,
                limit: None,
            }
        };
        Ok(Args {
            command: self.name,
            values,
            empty,
            page,
        })
    }
}

fn paging(values: &HashMap<&'static str, Arg>, max: u64) -> Result<Page, ApiError> {
    let page = match values.get("page") {
        Some(Arg::Int(p)) => Some(*p),
        _ => None,
    };
    let size = match values.get("pagesize") {
        Some(Arg::Int(p)) => Some(*p),
        _ => None,
    };
    match (page, size) {
        (None, None) => Ok(Page {
            offset: 0,
            limit: Some(max),
        }),
        (Some(_), Some(-1)) => Err(ApiError::param(
            "Can't specify page parameter when pagesize is -1 (Unlimited)",
        )),
        (None, Some(-1)) => Ok(Page {
            offset: 0,
            limit: None,
        }),
        (None, Some(_)) => Err(ApiError::param(
            "\"page\" parameter is required when \"pagesize\" is specified",
        )),
        (Some(_), None) => Err(ApiError::param(
            "\"pagesize\" parameter is required when \"page\" is specified",
        )),
        (Some(p), Some(s)) => {
            if s > max as i64 {
                return Err(ApiError::param(format!(
                    "Page size can't exceed max allowed page size value: {max}"
                )));
            }
            if s < 1 {
                return Err(ApiError::param(format!("Invalid page size value: {s}")));
            }
            if p < 1 {
                return Err(ApiError::param(format!("Invalid page number: {p}")));
            }
            Ok(Page {
                offset: (p as u64 - 1) * s as u64,
                limit: Some(s as u64),
            })
        }
    }
}

/// All command specs, by exact (case-sensitive) name.
pub struct Registry {
    by_name: HashMap<&'static str, &'static CommandSpec>,
    ordered: Vec<&'static CommandSpec>,
}

impl Registry {
    pub fn new(specs: Vec<CommandSpec>) -> Self {
        let ordered: Vec<&'static CommandSpec> = specs
            .into_iter()
            .map(|s| &*Box::leak(Box::new(s)))
            .collect();
        let mut by_name = HashMap::new();
        for s in &ordered {
            let dup = by_name.insert(s.name, *s);
            assert!(dup.is_none(), "command {} declared twice", s.name);
        }
        Self { by_name, ordered }
    }
    pub fn get(&self, name: &str) -> Option<&'static CommandSpec> {
        self.by_name.get(name).copied()
    }
    pub fn all(&self) -> &[&'static CommandSpec] {
        &self.ordered
    }
}

#[cfg(test)]
#[path = "registry_tests.rs"]
mod tests;
