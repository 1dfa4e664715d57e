/**
 * A Map for records that come and go by the hundred thousand a second,
 * numbered and mostly in order (stanzas waiting for their confirmation),
 * which lets go of a record the moment it is deleted.
 *
 * Why not a plain Map: a Map that is added to at one end and deleted from
 * at the other rebuilds its hash table every few thousand operations, and
 * an old table that reached V8's old generation stays until the next full
 * collection. Everything it pointed to (the stanzas, and the socket chunks
 * their text is a slice of) is then kept alive through every young
 * collection and promoted with it: measured on the cluster path, megabytes
 * promoted per scavenge and a third of a member's CPU in the collector.
 * Here the table points to small boxes, and a deleted record's box is emptied.
 */
export class ReleasingMap<V> {
  private readonly boxes = new Map<number, { value: V | undefined }>();

  get size(): number {
    return this.boxes.size;
  }

  get(key: number): V | undefined {
    return this.boxes.get(key)?.value;
  }

  set(key: number, value: V): void {
    const box = this.boxes.get(key);
    if (box === undefined) this.boxes.set(key, { value });
    else box.value = value;
  }

  /** Removes and returns the record, if there was one. */
  take(key: number): V | undefined {
    const box = this.boxes.get(key);
    if (box === undefined) return undefined;
    this.boxes.delete(key);
    const value = box.value;
    box.value = undefined;
    return value;
  }

  /** Takes records from the first one set while their keys are at most `max`: a cumulative confirmation, for keys set in increasing order. */
  takeUpTo(max: number): V[] {
    const taken: V[] = [];
    for (const [key, box] of this.boxes) {
      if (key > max) break;
      this.boxes.delete(key);
      if (box.value !== undefined) taken.push(box.value);
      box.value = undefined;
    }
    return taken;
  }

  /** Records in the order they were first set, as a Map iterates; deleting the current one while iterating is allowed. */
  *entries(): IterableIterator<[number, V]> {
    for (const [key, box] of this.boxes) if (box.value !== undefined) yield [key, box.value];
  }

  *values(): IterableIterator<V> {
    for (const box of this.boxes.values()) if (box.value !== undefined) yield box.value;
  }
}
