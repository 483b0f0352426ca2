/**
 * The size of etcd's database, polled from its maintenance status (what `etcdctl endpoint status`
 * shows): the file's size, and the part of it that holds live data. The gap between them is space
 * that compaction freed and only a defragmentation gives back; the file's size is what counts
 * against etcd's quota (2 GiB by default), past which etcd refuses every write.
 *
 * The figures are those of the member that answered; in a cluster the members' sizes differ a
 * little, and any of them nearing the quota is the alarm.
 */
import type { Etcd3 } from 'etcd3';
import { Gauge } from 'prom-client';

const dbSize = new Gauge({
  name: 'shoal_etcd_db_size_bytes',
  help: "Size of etcd's database file, as the member the apiserver asked reports it (counts against etcd's quota).",
});
const dbSizeInUse = new Gauge({
  name: 'shoal_etcd_db_size_in_use_bytes',
  help: "Bytes of etcd's database file that hold data; the rest was freed by compaction and is reclaimed by defragmentation.",
});

export class EtcdDbSizeMonitor {
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly etcd: Etcd3,
    private readonly o: { intervalMs: number; log: { debug(obj: object, msg: string): void } },
  ) {}

  /** Polls once now (the gauges exist from the start) and then every interval. */
  start(): void {
    void this.poll();
    this.timer = setInterval(() => void this.poll(), this.o.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  async poll(): Promise<void> {
    try {
      const status = await this.etcd.maintenance.status();
      dbSize.set(Number(status.dbSize));
      dbSizeInUse.set(Number(status.dbSizeInUse));
    } catch (err) {
      // etcd down is said by /readyz and every request; the gauges keep their last values.
      this.o.log.debug({ err: (err as Error).message }, 'could not read the etcd database size');
    }
  }
}
