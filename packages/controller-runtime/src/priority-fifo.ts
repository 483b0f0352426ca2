/**
 * The order a WorkQueue hands keys out in: higher priority first, first in first out among
 * equal priorities. One FIFO per priority present, and the priorities present kept sorted:
 * priorities are few (a PriorityClass value, 0–1000) while keys are many, so adding and taking
 * cost O(1) except when a priority appears for the first time. With every key at one priority
 * it is a plain FIFO, which is what a queue without `priorityOf` is.
 */

/** A FIFO that takes from the front without shifting the array each time. */
class Fifo<T> {
  private items: T[] = [];
  private head = 0;

  push(item: T): void {
    this.items.push(item);
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head]!;
    this.head++;
    // Drop the taken prefix once it is most of the array, so memory follows what is queued.
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  get length(): number {
    return this.items.length - this.head;
  }
}

export class PriorityFifo<T> {
  private readonly byPriority = new Map<number, Fifo<T>>();
  /** The priorities that have items, highest first. */
  private priorities: number[] = [];
  private size = 0;

  push(item: T, priority: number): void {
    // NaN would never compare equal to itself and would be lost between the lists.
    const p = Number.isNaN(priority) ? 0 : priority;
    let fifo = this.byPriority.get(p);
    if (!fifo) {
      fifo = new Fifo<T>();
      this.byPriority.set(p, fifo);
      const at = this.priorities.findIndex((q) => q < p);
      if (at < 0) this.priorities.push(p);
      else this.priorities.splice(at, 0, p);
    }
    fifo.push(item);
    this.size++;
  }

  /** The oldest item of the highest priority, or undefined when empty. */
  shift(): T | undefined {
    const p = this.priorities[0];
    if (p === undefined) return undefined;
    const fifo = this.byPriority.get(p)!;
    const item = fifo.shift()!;
    this.size--;
    if (fifo.length === 0) {
      this.byPriority.delete(p);
      this.priorities.shift();
    }
    return item;
  }

  get length(): number {
    return this.size;
  }
}
