import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, Max, Min } from 'class-validator';

class BlockBody {
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(120_000)
  ms!: number;
}

/**
 * Failure injection for the watchdog and health tests. Mounted only with ENABLE_TEST_HOOKS,
 * which the config refuses in production.
 */
@ApiExcludeController()
@Controller('__test')
export class TestHooksController {
  /** Answers first, then blocks this worker's event loop: a hung worker as the watchdog sees it. */
  @Post('block-event-loop')
  @HttpCode(202)
  block(@Body() body: BlockBody): { blockingMs: number; pid: number } {
    setTimeout(() => {
      const until = Date.now() + body.ms;
      while (Date.now() < until) {
        // Deliberately busy: nothing else may run on this loop.
      }
    }, 20);
    return { blockingMs: body.ms, pid: process.pid };
  }
}
