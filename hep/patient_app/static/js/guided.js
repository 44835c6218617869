// The guided mode's timer engine: a prescribed item becomes a list of steps, run one after another.
//
//   hold items:  for each set, for each rep: get ready (countdown) -> hold (countdown); rest between sets
//   rep items:   for each set: reps counted by taps (the patient's own pace); rest between sets
//
// Pure logic over a clock (Date.now by default): no DOM, so the exercise screen draws it and the page
// clock in tests moves it. `onChange(state, event)` is called on every step change and every second.

export const GET_READY_SECONDS = 3;

export function steps(item) {
  const sets = item.sets || 1;
  const reps = item.reps || 1;
  const out = [];
  for (let set = 1; set <= sets; set += 1) {
    if (item.hold_seconds) {
      for (let rep = 1; rep <= reps; rep += 1) {
        out.push({ kind: 'ready', seconds: GET_READY_SECONDS, set, rep });
        out.push({ kind: 'hold', seconds: item.hold_seconds, set, rep });
      }
    } else {
      out.push({ kind: 'reps', set, reps });
    }
    if (set < sets && item.rest_seconds > 0) out.push({ kind: 'rest', seconds: item.rest_seconds, set });
  }
  return out;
}

export class Guide {
  constructor(item, { onChange = () => {}, clock = () => Date.now() } = {}) {
    this.item = item;
    this.plan = steps(item);
    this.onChange = onChange;
    this.clock = clock;
    this.index = -1;
    this.deadline = null;
    this.pausedLeft = null;
    this.repsThisSet = 0;
    this.setsDone = 0;
    this.repsBySet = [];
    this.holdsDone = 0;
    this.timer = null;
    this.lastSecond = null;
  }

  get step() {
    return this.plan[this.index] || null;
  }

  get finished() {
    return this.index >= this.plan.length;
  }

  get paused() {
    return this.pausedLeft !== null;
  }

  /** Seconds left on the running countdown (whole seconds, rounded up). */
  get secondsLeft() {
    if (!this.step || this.step.kind === 'reps') return null;
    const ms = this.paused ? this.pausedLeft : this.deadline - this.clock();
    return Math.max(0, Math.ceil(ms / 1000));
  }

  state() {
    return {
      step: this.step,
      index: this.index,
      total: this.plan.length,
      secondsLeft: this.secondsLeft,
      paused: this.paused,
      finished: this.finished,
      set: this.step?.set ?? this.item.sets,
      sets: this.item.sets,
      rep: this.step?.kind === 'reps' ? this.repsThisSet : this.step?.rep ?? null,
      reps: this.item.reps,
      result: this.result(),
    };
  }

  /** What was done so far, as the log form takes it. */
  result() {
    const reps = this.repsBySet.length ? Math.round(this.repsBySet.reduce((a, b) => a + b, 0) / this.repsBySet.length) : null;
    return {
      sets_done: this.setsDone,
      reps_done: this.item.reps ? reps ?? 0 : null,
      hold_seconds_done: this.item.hold_seconds && this.holdsDone ? this.item.hold_seconds : null,
    };
  }

  start() {
    this.timer = setInterval(() => this.tick(), 200);
    this.advance('start');
  }

  stop() {
    clearInterval(this.timer);
    this.timer = null;
  }

  pause() {
    if (this.paused || !this.step || this.step.kind === 'reps') return;
    this.pausedLeft = Math.max(0, this.deadline - this.clock());
    this.emit('pause');
  }

  resume() {
    if (!this.paused) return;
    this.deadline = this.clock() + this.pausedLeft;
    this.pausedLeft = null;
    this.emit('resume');
  }

  /** A rep done (rep items): the set ends by itself at the prescribed reps. */
  rep() {
    if (this.step?.kind !== 'reps') return;
    this.repsThisSet += 1;
    if (this.repsThisSet >= this.step.reps) this.endSet();
    else this.emit('rep');
  }

  /** Skip to the next step (a set done early, a rest cut short). */
  next() {
    if (this.step?.kind === 'reps') this.endSet();
    else if (this.step?.kind === 'hold') this.complete();
    else this.advance('skip');
  }

  endSet() {
    this.repsBySet.push(this.step.kind === 'reps' ? this.repsThisSet : this.step.rep);
    this.setsDone += 1;
    this.repsThisSet = 0;
    this.advance('set-done');
  }

  complete() {
    // A hold ran out: count it; the last rep of a set ends the set.
    const { set, rep } = this.step;
    this.holdsDone += 1;
    const lastRep = rep === (this.item.reps || 1);
    if (lastRep) {
      this.repsBySet.push(rep);
      this.setsDone = set;
    }
    this.advance(lastRep ? 'set-done' : 'hold-done');
  }

  advance(event) {
    this.index += 1;
    this.pausedLeft = null;
    if (this.finished) {
      this.stop();
      this.emit('finished');
      return;
    }
    this.deadline = this.step.seconds ? this.clock() + this.step.seconds * 1000 : null;
    this.lastSecond = this.secondsLeft;
    this.emit(event);
  }

  tick() {
    if (!this.step || this.paused || this.step.kind === 'reps') return;
    const left = this.secondsLeft;
    if (left <= 0) {
      const ended = this.step.kind;
      if (ended === 'hold') this.complete();
      else this.advance(`${ended}-done`);
      return;
    }
    if (left !== this.lastSecond) {
      this.lastSecond = left;
      this.emit('tick');
    }
  }

  emit(event) {
    this.onChange(this.state(), event);
  }
}
