//! A small evaluator for the Python expressions golden-next writes for `LambdaLR` and
//! `MultiplicativeLR` lambdas (`0.95**epoch`, `min(1,(epoch+1)/10)`, `0.98 if epoch<30 else
//! 0.9`, `math.cos(...)`): numbers, `epoch`, `+ - * / // % **`, comparisons, `not`/`and`/
//! `or`, conditional expressions, `min`/`max`/`abs`/`float`/`int`/`pow` and `math.*`.
//! Values are f64 (Python's floats; its ints are exact in f64 at these sizes). Anything else
//! is an error, so a case with an expression it cannot read fails.

pub fn eval(src: &str, epoch: u64) -> Result<f64, String> {
    let tokens = tokenize(src)?;
    let mut p = Parser { tokens, pos: 0, epoch: epoch as f64 };
    let v = p.conditional()?;
    if p.pos != p.tokens.len() {
        return Err(format!("`{src}`: unexpected `{}`", p.tokens[p.pos]));
    }
    Ok(v)
}

fn tokenize(src: &str) -> Result<Vec<String>, String> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_digit()
            || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_digit()
                    || chars[i] == '.'
                    || ((chars[i] == 'e' || chars[i] == 'E') && i > start)
                    || ((chars[i] == '-' || chars[i] == '+') && matches!(chars[i - 1], 'e' | 'E')))
            {
                i += 1;
            }
            out.push(chars[start..i].iter().collect());
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '.')
            {
                i += 1;
            }
            out.push(chars[start..i].iter().collect());
        } else {
            let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            if ["**", "//", "<=", ">=", "==", "!="].contains(&two.as_str()) {
                out.push(two);
                i += 2;
            } else if "+-*/%()<>,".contains(c) {
                out.push(c.to_string());
                i += 1;
            } else {
                return Err(format!("`{src}`: cannot read `{c}`"));
            }
        }
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<String>,
    pos: usize,
    epoch: f64,
}

impl Parser {
    fn peek(&self) -> Option<&str> {
        self.tokens.get(self.pos).map(String::as_str)
    }

    fn eat(&mut self, t: &str) -> bool {
        if self.peek() == Some(t) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, t: &str) -> Result<(), String> {
        if self.eat(t) { Ok(()) } else { Err(format!("expected `{t}` at {:?}", self.peek())) }
    }

    /// `a if c else b`
    fn conditional(&mut self) -> Result<f64, String> {
        let a = self.or()?;
        if self.eat("if") {
            let c = self.or()?;
            self.expect("else")?;
            let b = self.conditional()?;
            return Ok(if c != 0.0 { a } else { b });
        }
        Ok(a)
    }

    fn or(&mut self) -> Result<f64, String> {
        let mut a = self.and()?;
        while self.eat("or") {
            let b = self.and()?;
            a = if a != 0.0 { a } else { b };
        }
        Ok(a)
    }

    fn and(&mut self) -> Result<f64, String> {
        let mut a = self.not()?;
        while self.eat("and") {
            let b = self.not()?;
            a = if a == 0.0 { a } else { b };
        }
        Ok(a)
    }

    fn not(&mut self) -> Result<f64, String> {
        if self.eat("not") {
            return Ok(f64::from(u8::from(self.not()? == 0.0)));
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<f64, String> {
        let a = self.arith()?;
        let op = match self.peek() {
            Some(op @ ("<" | "<=" | ">" | ">=" | "==" | "!=")) => op.to_string(),
            _ => return Ok(a),
        };
        self.pos += 1;
        let b = self.arith()?;
        let r = match op.as_str() {
            "<" => a < b,
            "<=" => a <= b,
            ">" => a > b,
            ">=" => a >= b,
            "==" => a == b,
            _ => a != b,
        };
        Ok(f64::from(u8::from(r)))
    }

    fn arith(&mut self) -> Result<f64, String> {
        let mut a = self.term()?;
        loop {
            if self.eat("+") {
                a += self.term()?;
            } else if self.eat("-") {
                a -= self.term()?;
            } else {
                return Ok(a);
            }
        }
    }

    fn term(&mut self) -> Result<f64, String> {
        let mut a = self.unary()?;
        loop {
            if self.eat("*") {
                a *= self.unary()?;
            } else if self.eat("/") {
                a /= self.unary()?;
            } else if self.eat("//") {
                a = (a / self.unary()?).floor();
            } else if self.eat("%") {
                let b = self.unary()?;
                a -= b * (a / b).floor();
            } else {
                return Ok(a);
            }
        }
    }

    fn unary(&mut self) -> Result<f64, String> {
        if self.eat("-") {
            return Ok(-self.unary()?);
        }
        if self.eat("+") {
            return self.unary();
        }
        self.power()
    }

    /// `a ** b` binds tighter than a unary minus on its left, looser on its right.
    fn power(&mut self) -> Result<f64, String> {
        let a = self.atom()?;
        if self.eat("**") {
            let b = self.unary()?;
            return Ok(a.powf(b));
        }
        Ok(a)
    }

    fn atom(&mut self) -> Result<f64, String> {
        let t = self.peek().ok_or("unexpected end")?.to_string();
        self.pos += 1;
        if t == "(" {
            let v = self.conditional()?;
            self.expect(")")?;
            return Ok(v);
        }
        if let Ok(x) = t.parse::<f64>() {
            return Ok(x);
        }
        match t.as_str() {
            "epoch" => return Ok(self.epoch),
            "math.pi" => return Ok(std::f64::consts::PI),
            "math.e" => return Ok(std::f64::consts::E),
            "True" => return Ok(1.0),
            "False" => return Ok(0.0),
            _ => {}
        }
        self.expect("(")?;
        let mut args = vec![self.conditional()?];
        while self.eat(",") {
            args.push(self.conditional()?);
        }
        self.expect(")")?;
        let one = |args: &[f64]| -> Result<f64, String> {
            if args.len() == 1 { Ok(args[0]) } else { Err(format!("{t}: one argument")) }
        };
        Ok(match t.as_str() {
            "min" => args.iter().copied().fold(f64::INFINITY, f64::min),
            "max" => args.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            "abs" => one(&args)?.abs(),
            "float" => one(&args)?,
            "int" => one(&args)?.trunc(),
            "pow" | "math.pow" if args.len() == 2 => args[0].powf(args[1]),
            "math.cos" => one(&args)?.cos(),
            "math.sin" => one(&args)?.sin(),
            "math.exp" => one(&args)?.exp(),
            "math.log" => one(&args)?.ln(),
            "math.sqrt" => one(&args)?.sqrt(),
            "math.floor" => one(&args)?.floor(),
            "math.ceil" => one(&args)?.ceil(),
            other => return Err(format!("unknown function `{other}`")),
        })
    }
}

#[test]
fn python_expressions() {
    let cases: [(&str, u64, f64); 9] = [
        ("0.95**epoch", 3, 0.95f64.powf(3.0)),
        ("1/(1+0.1*epoch)", 10, 0.5),
        ("min(1,(epoch+1)/10)", 4, 0.5),
        ("0.98 if epoch<30 else 0.9", 30, 0.9),
        ("0.98 if epoch<30 else 0.9", 29, 0.98),
        ("-2**2", 0, -4.0),
        ("epoch // 3 % 2", 7, 0.0),
        ("math.cos(math.pi*epoch/4)", 4, -1.0),
        ("1 if not epoch and True else 2", 0, 1.0),
    ];
    for (src, epoch, want) in cases {
        assert_eq!(eval(src, epoch), Ok(want), "{src} at {epoch}");
    }
    assert!(eval("lambda x: x", 0).is_err());
    assert!(eval("epoch +", 0).is_err());
}
