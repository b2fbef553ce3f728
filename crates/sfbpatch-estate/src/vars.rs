//! The variables of one execution: what `$name = <command>` keeps, and `$global:LASTEXITCODE
//! = $name.ExitCode`, the install step's way of handing on the exit code of a program started
//! with `Start-Process -Wait -PassThru` (DOMAIN.md §5).
//!
//! A script sent with `powershell.exe -Command` runs in the global scope, so `$x` and
//! `$global:x` are one variable there; names are case-insensitive. A variable never assigned
//! is `$null`, and so is a property an object does not have (PowerShell without strict mode).

use std::collections::BTreeMap;

use sfbpatch_pwsh::syntax::{Assigned, VariableRef};

use crate::cmdlets::{Cx, Object, Out, run_command};
use crate::estate::Estate;

/// A variable's value, as far as the simulator models values.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Value {
    /// An object a command returned.
    Object(Object),
    /// A command's printed output, when it returned no object the simulator models.
    Text(String),
    /// A number (an exit code).
    Int(i32),
    /// `$null`.
    Null,
}

/// The variables of one execution, by lower-cased name.
#[derive(Debug, Default)]
pub(crate) struct Vars(BTreeMap<String, Value>);

/// What an assignment did.
pub(crate) struct Assignment {
    /// Its outcome as a statement.
    pub(crate) out: Out,
    /// It set `$LASTEXITCODE`: to this code, or to `$null` (`Some(None)`) — the exit code of
    /// the execution from now on, not a failure of the statement.
    pub(crate) exit_code: Option<Option<i32>>,
}

/// `.ExitCode` of a process that has not exited: .NET's `Process.ExitCode` throws
/// `InvalidOperationException` ("The process has not exited",
/// https://learn.microsoft.com/dotnet/api/system.diagnostics.process.exitcode), which
/// PowerShell reports as an exception getting the property.
const NOT_EXITED: &str =
    "Exception getting \"ExitCode\": \"Process must exit before requested information can be determined.\"";

impl Vars {
    fn get(&self, v: &VariableRef) -> Value {
        self.0.get(&v.name.to_ascii_lowercase()).cloned().unwrap_or(Value::Null)
    }

    /// Runs `$variable = value`.
    pub(crate) fn assign(
        &mut self,
        e: &mut Estate,
        cx: &mut Cx,
        variable: &VariableRef,
        value: &Assigned,
    ) -> Assignment {
        let exit_code = variable.is("LASTEXITCODE");
        let (value, out) = match value {
            Assigned::Command(c) if !exit_code => {
                let out = run_command(e, cx, c);
                // The output is kept, not printed; errors are still shown.
                let kept = out.object.clone().map_or_else(|| Value::Text(out.stdout.clone()), Value::Object);
                (kept, Out { stdout: String::new(), ..out })
            }
            Assigned::Command(_) => {
                return refused(format!("the simulator does not assign a command's output to ${}", variable.name));
            }
            Assigned::Member { variable: source, member } => match (self.get(source), member) {
                (Value::Object(Object::Process { exit_code: Some(code) }), m) if m.eq_ignore_ascii_case("ExitCode") => {
                    (Value::Int(code), Out::ok("", 1))
                }
                (Value::Object(Object::Process { exit_code: None }), m) if m.eq_ignore_ascii_case("ExitCode") => {
                    return refused(NOT_EXITED.to_owned());
                }
                (Value::Object(Object::Process { .. }), m) => {
                    return refused(format!("the simulator does not model the member {m} of a process"));
                }
                // A property a string, a number or `$null` does not have is `$null`.
                (Value::Text(_) | Value::Int(_) | Value::Null, _) => (Value::Null, Out::ok("", 1)),
            },
        };
        if exit_code {
            // `$LASTEXITCODE = $null` (a `.ExitCode` of nothing: `Start-Process` failed) is no
            // exit code: the result protocol then reads the errors.
            let code = if let Value::Int(c) = value { Some(c) } else { None };
            self.0.insert(variable.name.to_ascii_lowercase(), value);
            return Assignment { out, exit_code: Some(code) };
        }
        self.0.insert(variable.name.to_ascii_lowercase(), value);
        Assignment { out, exit_code: None }
    }
}

fn refused(why: String) -> Assignment {
    Assignment { out: Out::err(why, 1), exit_code: None }
}
