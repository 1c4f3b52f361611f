import { Args, Authorized, Ctx, Mutation, Resolver } from 'type-graphql';
import { recordEvents } from '../../logs/index.js';
import type { GraphqlContext } from '../context.js';
import { Role } from '../types/enums.js';
import { RecordEventsArgs, RecordEventsResult } from '../types/event.input.js';
import { Cost } from '../limits/field-cost.js';

@Resolver()
export class EventResolver {
  @Authorized(Role.APP)
  @Cost({ perUnit: { arg: 'events', cost: 2 } })
  @Mutation(() => RecordEventsResult, {
    description: 'Appends behaviour events (1..1000), all-or-nothing. Domains and items must exist; users are created on first sight.',
  })
  async recordEvents(@Args(() => RecordEventsArgs) args: RecordEventsArgs, @Ctx() ctx: GraphqlContext): Promise<RecordEventsResult> {
    ctx.deadline.check();
    const now = new Date();
    const result = await recordEvents(
      ctx.db,
      args.events.map((e) => ({ domain: e.domain, user: e.userId, item: e.itemId, kind: e.kind, weight: e.weight, time: e.occurredAt ?? now })),
    );
    // This process serves its own writes at once (other processes hear of them through EVENTS_CHANNEL).
    const usersByDomain = new Map<string, string[]>();
    for (const e of args.events) {
      const users = usersByDomain.get(e.domain);
      if (users) users.push(e.userId);
      else usersByDomain.set(e.domain, [e.userId]);
    }
    for (const [domain, users] of usersByDomain) ctx.services.recommender.forgetUsers(domain, users);
    return Object.assign(new RecordEventsResult(), result);
  }
}
