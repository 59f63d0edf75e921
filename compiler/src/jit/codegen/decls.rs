//! Declarations: function, table, segment and constant bodies, eligibility rules (first
//! failing rule index), rankings (score and applied-boost bitmask), the whole-catalog and
//! whole-survivor loops, and calls to all of them (inlined when small).

use super::expr::{internal, mf, Fx, Vals, R};
use super::{clif_types, FnKey, Ret};
use crate::ir::{CellTest, CmpOp, HitPolicy, Literal, RuleKind, Type};
use crate::jit::layout::words;
use cranelift_codegen::ir::{condcodes::IntCC, types, InstBuilder, Value};

/// Words of boost bitmask per candidate for a ranking with `n` boosts.
pub fn boost_words(n: usize) -> usize {
    n.div_ceil(64).max(1)
}

impl Fx<'_, '_, '_> {
    /// Emits the body of function `key`; `params` are the entry block's parameters (the first
    /// is the context).
    pub fn body(&mut self, key: FnKey, params: &[Value], ret: &Ret) -> R<()> {
        let args = params.get(1..).unwrap_or(&[]).to_vec();
        match key {
            FnKey::Function(_) | FnKey::Table(_) => {
                let (tys, _) = self.m.callable_types(key)?;
                let n: usize = tys.iter().map(words).sum();
                let (value_args, out) = args.split_at(n.min(args.len()));
                let out = out.first().copied();
                let v = self.with_frame(&tys, value_args, |fx| match key {
                    FnKey::Function(id) => fx.function_body(id),
                    FnKey::Table(id) => fx.table_body(id),
                    _ => Err(internal("not a function")),
                })?;
                match (ret, out) {
                    (Ret::Out(_), Some(out)) => {
                        self.store_exact(&v, out);
                        self.b.ins().return_(&[]);
                    }
                    _ => {
                        self.b.ins().return_(&v);
                    }
                }
            }
            FnKey::Segment(id) => {
                let def = self
                    .m
                    .program
                    .segments
                    .get(id as usize)
                    .ok_or_else(|| internal("unknown segment"))?;
                let v = self.with_frame(&[], &[], |fx| fx.cond(&def.body))?;
                self.b.ins().return_(&[v]);
            }
            FnKey::Const(id) => {
                let def = self
                    .m
                    .program
                    .consts
                    .get(id as usize)
                    .ok_or_else(|| internal("unknown constant"))?;
                let v = self.with_frame(&[], &[], |fx| fx.expr(&def.value))?;
                let (ready, cell) = self.const_cell(id)?;
                self.store_exact(&v, cell);
                let one = self.b.ins().iconst(types::I8, 1);
                self.b.ins().store(mf(), one, ready, 0);
                self.b.ins().return_(&[]);
            }
            FnKey::Eligibility(id) => {
                let cand = *args.first().ok_or_else(|| internal("no candidate"))?;
                let r = self.rules(id, cand)?;
                self.b.ins().return_(&[r]);
            }
            FnKey::Ranking(id) => {
                let (cand, out) = match args.as_slice() {
                    [c, o] => (*c, *o),
                    _ => return Err(internal("ranking parameters")),
                };
                let (score, masks) = self.ranking(id, cand)?;
                for (k, m) in masks.iter().enumerate() {
                    self.b.ins().store(mf(), *m, out, (k * 8) as i32);
                }
                self.b.ins().return_(&[score]);
            }
            FnKey::EligBatch(id) => self.elig_batch(id, &args)?,
            FnKey::RankBatch(id) => self.rank_batch(id, &args)?,
        }
        Ok(())
    }

    /// Stores words exactly as they are (bools widened), for out-pointers and the const store.
    fn store_exact(&mut self, v: &[Value], at: Value) {
        self.store(v, at, 0);
    }

    fn function_body(&mut self, id: u32) -> R<Vals> {
        let def = self
            .m
            .program
            .functions
            .get(id as usize)
            .ok_or_else(|| internal("unknown function"))?;
        self.expr(&def.body)
    }

    pub fn call_function(&mut self, id: u32, args: &[Value]) -> R<Vals> {
        let key = FnKey::Function(id);
        let depth = self.depth;
        if self.m.should_inline(key, depth) {
            let (tys, _) = self.m.callable_types(key)?;
            self.with_frame(&tys, args, |fx| fx.function_body(id))
        } else {
            self.call(key, args)
        }
    }

    pub fn call_table(&mut self, id: u32, args: &[Value]) -> R<Vals> {
        let key = FnKey::Table(id);
        let depth = self.depth;
        if self.m.should_inline(key, depth) {
            let (tys, _) = self.m.callable_types(key)?;
            self.with_frame(&tys, args, |fx| fx.table_body(id))
        } else {
            self.call(key, args)
        }
    }

    pub fn call_eligibility(&mut self, id: u32, args: &[Value]) -> R<Value> {
        let cand = *args
            .first()
            .ok_or_else(|| internal("eligibility without a candidate"))?;
        let key = FnKey::Eligibility(id);
        let depth = self.depth;
        let r = if self.m.should_inline(key, depth) {
            self.depth += 1;
            let r = self.rules(id, cand);
            self.depth -= 1;
            r?
        } else {
            let v = self.call(key, &[cand])?;
            *v.first().ok_or_else(|| internal("eligibility returned nothing"))?
        };
        Ok(self.b.ins().icmp_imm_s(IntCC::Equal, r, -1))
    }

    pub fn call_ranking(&mut self, id: u32, args: &[Value]) -> R<Value> {
        let cand = *args.first().ok_or_else(|| internal("ranking without a candidate"))?;
        let key = FnKey::Ranking(id);
        let depth = self.depth;
        if self.m.should_inline(key, depth) {
            self.depth += 1;
            let r = self.ranking(id, cand);
            self.depth -= 1;
            Ok(r?.0)
        } else {
            let n = self
                .m
                .program
                .rankings
                .get(id as usize)
                .map(|r| r.boosts.len())
                .unwrap_or(0);
            let out = self.stack_area(boost_words(n));
            let v = self.call(key, &[cand, out])?;
            v.first().copied().ok_or_else(|| internal("ranking returned nothing"))
        }
    }

    /// The index of the first rule of eligibility `id` that removes `cand`, or -1.
    pub fn rules(&mut self, id: u32, cand: Value) -> R<Value> {
        let def = self
            .m
            .program
            .eligibilities
            .get(id as usize)
            .ok_or_else(|| internal("unknown eligibility"))?;
        let exit = self.block_with(&[types::I64]);
        self.with_frame(&[Type::Record(def.schema)], &[cand], |fx| {
            for (i, rule) in def.rules.iter().enumerate() {
                let c = fx.cond(&rule.cond)?;
                let next = fx.b.create_block();
                let idx = fx.i64c(i as i64);
                match rule.kind {
                    RuleKind::Require => fx.brif(c, next, &[], exit, &[idx]),
                    RuleKind::Deny => fx.brif(c, exit, &[idx], next, &[]),
                }
                fx.b.switch_to_block(next);
            }
            let none = fx.i64c(-1);
            fx.jump(exit, &[none]);
            Ok(())
        })?;
        self.b.switch_to_block(exit);
        Ok(self.params(exit)[0])
    }

    /// Ranking `id` on `cand`: the score and the applied-boost bitmask words.
    pub fn ranking(&mut self, id: u32, cand: Value) -> R<(Value, Vals)> {
        let def = self
            .m
            .program
            .rankings
            .get(id as usize)
            .ok_or_else(|| internal("unknown ranking"))?;
        let nw = boost_words(def.boosts.len());
        self.with_frame(&[Type::Record(def.schema)], &[cand], |fx| {
            let mut score = fx.one(&def.score)?;
            let mut masks: Vals = (0..nw).map(|_| fx.i64c(0)).collect();
            for (i, boost) in def.boosts.iter().enumerate() {
                let c = fx.cond(&boost.cond)?;
                let applied = fx.b.create_block();
                let mut tys = vec![types::F64];
                tys.extend(std::iter::repeat_n(types::I64, nw));
                let done = fx.block_with(&tys);
                let mut carry = vec![score];
                carry.extend(masks.iter().copied());
                fx.brif(c, applied, &[], done, &carry);
                fx.b.switch_to_block(applied);
                let factor = fx.one(&boost.factor)?;
                let s = fx.b.ins().fmul(score, factor);
                let mut new_masks = masks.clone();
                let w = i / 64;
                let bit = fx.b.ins().bor_imm_s(masks[w], 1i64 << (i % 64));
                new_masks[w] = bit;
                let mut args = vec![s];
                args.extend(new_masks);
                fx.jump(done, &args);
                fx.b.switch_to_block(done);
                let p = fx.params(done);
                score = p[0];
                masks = p[1..].to_vec();
            }
            Ok((score, masks))
        })
    }

    /// `(ctx, base, n, out)`: the first failing rule of each of `n` records laid out from
    /// `base`, as `i32`s.
    fn elig_batch(&mut self, id: u32, args: &[Value]) -> R<()> {
        let (base, n, out) = match args {
            [b, n, o] => (*b, *n, *o),
            _ => return Err(internal("eligibility batch parameters")),
        };
        let schema = self
            .m
            .program
            .eligibilities
            .get(id as usize)
            .map(|d| d.schema)
            .ok_or_else(|| internal("unknown eligibility"))?;
        let stride = i64::from(self.m.layout.record_words(schema).unwrap_or(0)) * 8;
        let header = self.block_with(&[types::I64]);
        let body = self.b.create_block();
        let exit = self.b.create_block();
        let zero = self.i64c(0);
        self.jump(header, &[zero]);
        self.b.switch_to_block(header);
        let i = self.params(header)[0];
        let more = self.b.ins().icmp(IntCC::SignedLessThan, i, n);
        self.brif(more, body, &[], exit, &[]);
        self.b.switch_to_block(body);
        let off = self.b.ins().imul_imm_s(i, stride);
        let cand = self.b.ins().iadd(base, off);
        let r = self.rules(id, cand)?;
        let r32 = self.b.ins().ireduce(types::I32, r);
        let o = self.b.ins().imul_imm_s(i, 4);
        let at = self.b.ins().iadd(out, o);
        self.b.ins().store(mf(), r32, at, 0);
        let next = self.b.ins().iadd_imm_s(i, 1);
        self.jump(header, &[next]);
        self.b.switch_to_block(exit);
        self.b.ins().return_(&[]);
        Ok(())
    }

    /// `(ctx, base, idx, m, scores, boosts)`: ranking of the `m` records `base + idx[j] *
    /// stride`.
    fn rank_batch(&mut self, id: u32, args: &[Value]) -> R<()> {
        let (base, idx, m, scores, boosts) = match args {
            [b, i, m, s, o] => (*b, *i, *m, *s, *o),
            _ => return Err(internal("ranking batch parameters")),
        };
        let def = self
            .m
            .program
            .rankings
            .get(id as usize)
            .ok_or_else(|| internal("unknown ranking"))?;
        let nw = boost_words(def.boosts.len()) as i64;
        let stride = i64::from(self.m.layout.record_words(def.schema).unwrap_or(0)) * 8;
        let header = self.block_with(&[types::I64]);
        let body = self.b.create_block();
        let exit = self.b.create_block();
        let zero = self.i64c(0);
        self.jump(header, &[zero]);
        self.b.switch_to_block(header);
        let j = self.params(header)[0];
        let more = self.b.ins().icmp(IntCC::SignedLessThan, j, m);
        self.brif(more, body, &[], exit, &[]);
        self.b.switch_to_block(body);
        let io = self.b.ins().imul_imm_s(j, 4);
        let ia = self.b.ins().iadd(idx, io);
        let k = self.b.ins().uload32(mf(), ia, 0);
        let off = self.b.ins().imul_imm_s(k, stride);
        let cand = self.b.ins().iadd(base, off);
        let (score, masks) = self.ranking(id, cand)?;
        let so = self.b.ins().imul_imm_s(j, 8);
        let sa = self.b.ins().iadd(scores, so);
        self.b.ins().store(mf(), score, sa, 0);
        let bo = self.b.ins().imul_imm_s(j, nw * 8);
        let ba = self.b.ins().iadd(boosts, bo);
        for (w, mask) in masks.iter().enumerate() {
            self.b.ins().store(mf(), *mask, ba, (w * 8) as i32);
        }
        let next = self.b.ins().iadd_imm_s(j, 1);
        self.jump(header, &[next]);
        self.b.switch_to_block(exit);
        self.b.ins().return_(&[]);
        Ok(())
    }

    /// Does a column value (of `ty`) match a cell. A missing optional matches only `_`.
    fn cell(&mut self, ty: &Type, v: &[Value], cell: &CellTest) -> R<Value> {
        if let CellTest::Any = cell {
            return Ok(self.boolc(true));
        }
        if let Type::Optional(inner) = ty {
            let present = *v.first().ok_or_else(|| internal("an optional column has no words"))?;
            let m = self.cell(inner, v.get(1..).unwrap_or(&[]), cell)?;
            return Ok(self.b.ins().band(present, m));
        }
        match cell {
            CellTest::Any => Ok(self.boolc(true)),
            CellTest::Compare(op, lit) => self.cell_compare(*op, ty, v, lit),
            CellTest::In { negated, values } => {
                let mut any = self.boolc(false);
                for lit in values {
                    let e = self.cell_compare(CmpOp::Eq, ty, v, lit)?;
                    any = self.b.ins().bor(any, e);
                }
                Ok(if *negated { self.not(any) } else { any })
            }
        }
    }

    /// A cell comparison; `Int` and `Float` mix by converting the `Int`, as the interpreter's
    /// `promote_pair` does.
    fn cell_compare(&mut self, op: CmpOp, ty: &Type, v: &[Value], lit: &Literal) -> R<Value> {
        let x = *v.first().ok_or_else(|| internal("a column has no words"))?;
        let l = self.literal(lit);
        match (ty, lit) {
            (Type::Int, Literal::Float(_)) => {
                let xf = self.b.ins().fcvt_from_sint(types::F64, x);
                self.compare(op, &Type::Float, &[xf], &[l])
            }
            (Type::Float, Literal::Int(_)) => {
                let lf = self.b.ins().fcvt_from_sint(types::F64, l);
                self.compare(op, &Type::Float, &[x], &[lf])
            }
            _ => self.compare(op, ty, &[x], &[l]),
        }
    }

    fn row_matches(&mut self, col_tys: &[Type], cols: &[Vals], cells: &[CellTest]) -> R<Value> {
        if cells.len() != cols.len() {
            return Err(internal("a table row has the wrong number of cells"));
        }
        let mut all = self.boolc(true);
        for ((ty, v), cell) in col_tys.iter().zip(cols).zip(cells) {
            if matches!(cell, CellTest::Any) {
                continue;
            }
            let m = self.cell(ty, v, cell)?;
            all = self.b.ins().band(all, m);
        }
        Ok(all)
    }

    /// A table's value, its parameters bound in the frame.
    fn table_body(&mut self, id: u32) -> R<Vals> {
        let def = self
            .m
            .program
            .tables
            .get(id as usize)
            .ok_or_else(|| internal("unknown table"))?;
        let mut cols = Vec::with_capacity(def.columns.len());
        let col_tys: Vec<Type> = def.columns.iter().map(|c| c.ty.clone()).collect();
        for c in &def.columns {
            cols.push(self.expr(c)?);
        }
        match def.hit {
            HitPolicy::First | HitPolicy::Unique => {
                let out_tys = clif_types(&def.output);
                let done = self.block_with(&out_tys);
                for row in &def.rows {
                    let m = self.row_matches(&col_tys, &cols, &row.cells)?;
                    let hit = self.b.create_block();
                    let next = self.b.create_block();
                    self.brif(m, hit, &[], next, &[]);
                    self.b.switch_to_block(hit);
                    let v = self.expr(&row.output)?;
                    self.jump(done, &v);
                    self.b.switch_to_block(next);
                }
                let d = def
                    .default
                    .as_ref()
                    .ok_or_else(|| internal(format!("table {} has no default", def.name)))?;
                let v = self.expr(d)?;
                self.jump(done, &v);
                self.b.switch_to_block(done);
                Ok(self.params(done))
            }
            HitPolicy::Collect => {
                let w = words(&def.output);
                let cap = self.i64c((w * def.rows.len()) as i64);
                let addr = self.alloc(cap)?;
                let mut count = self.i64c(0);
                for row in &def.rows {
                    let m = self.row_matches(&col_tys, &cols, &row.cells)?;
                    let hit = self.b.create_block();
                    let next = self.block_with(&[types::I64]);
                    self.brif(m, hit, &[], next, &[count]);
                    self.b.switch_to_block(hit);
                    let v = self.expr(&row.output)?;
                    let off = self.b.ins().imul_imm_s(count, (w * 8) as i64);
                    let at = self.b.ins().iadd(addr, off);
                    self.store(&v, at, 0);
                    let c1 = self.b.ins().iadd_imm_s(count, 1);
                    self.jump(next, &[c1]);
                    self.b.switch_to_block(next);
                    count = self.params(next)[0];
                }
                Ok(vec![addr, count])
            }
        }
    }
}
