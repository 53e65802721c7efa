//! The forms (add a user, a password, an APOP secret): their keys and what submitting does.

use ratatui::crossterm::event::{KeyCode, KeyEvent};

use super::{App, Effect, Field, Form, FormKind, Mode};

impl App {
    pub(super) fn form_key(&mut self, mut form: Form, key: KeyEvent) -> Vec<Effect> {
        let last = form.fields.len() - 1;
        match key.code {
            KeyCode::Esc => return Vec::new(),
            KeyCode::Tab | KeyCode::Down => form.focus = (form.focus + 1) % form.fields.len(),
            KeyCode::BackTab | KeyCode::Up => form.focus = (form.focus + last) % form.fields.len(),
            KeyCode::Enter if form.focus < last => form.focus += 1,
            KeyCode::Enter => return self.submit(form),
            KeyCode::Backspace => {
                form.fields[form.focus].value.pop();
            }
            KeyCode::Char(c) if !c.is_control() => form.fields[form.focus].value.push(c),
            _ => {}
        }
        self.mode = Mode::Form(form);
        Vec::new()
    }

    fn submit(&mut self, form: Form) -> Vec<Effect> {
        let secret_fields = &form.fields[form.fields.len() - 2..];
        if secret_fields[0].value != secret_fields[1].value {
            self.status = Some(Err("the two entries differ".into()));
            self.mode = Mode::Form(form);
            return Vec::new();
        }
        let secret = secret_fields[0].value.clone();
        let target = self.selected_user();
        match (form.kind, target) {
            (FormKind::AddUser, _) => vec![Effect::AddUser {
                name: form.fields[0].value.clone(),
                password: secret,
            }],
            (FormKind::Password, Some(name)) => vec![Effect::SetPassword {
                name,
                password: secret,
            }],
            (FormKind::Apop, Some(name)) => vec![Effect::SetApop {
                name,
                secret: Some(secret),
            }],
            _ => Vec::new(),
        }
    }
}

impl Form {
    pub(super) fn new(kind: FormKind, fields: &[(&'static str, bool)]) -> Form {
        Form {
            kind,
            fields: fields
                .iter()
                .map(|&(label, masked)| Field {
                    label,
                    value: String::new(),
                    masked,
                })
                .collect(),
            focus: 0,
        }
    }

    pub fn title(&self) -> &'static str {
        match self.kind {
            FormKind::AddUser => "Add a user",
            FormKind::Password => "Change the password",
            FormKind::Apop => "Set the APOP secret",
        }
    }
}
