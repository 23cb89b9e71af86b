import { Module } from '@nestjs/common';
import { SandboxControl } from './sandbox-control.service';

/** The api's side of the sandbox queues: routing jobs to the worker that owns a container. */
@Module({ providers: [SandboxControl], exports: [SandboxControl] })
export class SandboxesModule {}
