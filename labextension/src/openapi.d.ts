/**
 * GENERATED FILE: do not edit. The jobs service's API types, made by openapi-typescript
 * from aiinfn_hub/jobs/openapi.yaml. After changing that document, run `jlpm openapi:gen`
 * in labextension/ and commit the result; `jlpm openapi:check` (in `jlpm lint:check`,
 * hence `make lint` and `make test`) fails while this file is out of date.
 */
export interface paths {
    "/jobs": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List your jobs (an admin's, everyone's), newest first */
        get: operations["listJobs"];
        put?: never;
        /** Submit a job */
        post: operations["submitJob"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/jobs/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description the job's id, 10 hex digits */
                id: components["parameters"]["JobId"];
            };
            cookie?: never;
        };
        /** One job, with its plan and attempt history */
        get: operations["getJob"];
        put?: never;
        post?: never;
        /** Cancel a job */
        delete: operations["cancelJob"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/jobs/{id}/log": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description the job's id, 10 hex digits */
                id: components["parameters"]["JobId"];
            };
            cookie?: never;
        };
        /**
         * The log of the job's current attempt, from a byte offset
         * @description Once the job's log has been removed (after its executed notebook was saved, or ``JobsRetention.keep_logs_hours`` after it ended) the answer is empty with ``eof`` true and a ``message`` saying when and why it was removed.
         */
        get: operations["jobLog"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/jobs/{id}/collected": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description the job's id, 10 hex digits */
                id: components["parameters"]["JobId"];
            };
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Say that the job's executed notebooks have been saved (its log may go sooner)
         * @description The server extension calls this once it has saved every executed notebook of an ended job next to its source. ``JobsRetention.keep_logs_after_collected_hours`` later (unless ``keep_logs_hours`` after the end comes first) the service deletes the job's attempt Jobs, pods (with the log) and Kueue Workloads and removes the staged notebook from its record, keeping the request, plan and attempt history; GET /jobs/{id}/log then says the log was removed. Calling it again changes nothing.
         */
        post: operations["jobCollected"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/jobs/{id}/rerun": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description the job's id, 10 hex digits */
                id: components["parameters"]["JobId"];
            };
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Submit the same job again as a new job, optionally at a named site */
        post: operations["rerunJob"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/plan": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Where a job would run, and why (nothing is submitted) */
        post: operations["planJob"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/sites": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Each site's health, free and total capacity, queue depth and pending reasons */
        get: operations["listSites"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/whoami": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Who the service takes you for, and whether you may see and act on everyone's jobs
         * @description ``admin`` is true for JupyterHub admins (the ``admin`` field of your user model, or the ``admin:users`` scope) and for users named in ``Authenticator.admin_users``; the JupyterLab panel shows its user filter when it is true. ``settings`` are the service's own, which a user's server uses as they are (one source, never a copy kept equal by hand): the largest file shipped with a job, and where jobs see the home volume.
         */
        get: operations["whoami"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/events": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * A stream of your job changes (admins see everyone's)
         * @description Server-sent events: each change is a ``data:`` line holding a JSON object ``{"type": "job", "job": <Job>, "time": <RFC 3339>}``; comment lines keep the connection alive. A client that falls ``JobEvents.queue_limit`` changes behind gets ``{"type": "reconnect", "reason": <words>, "time": ...}`` and the end of the stream: connect again and read your jobs afresh. One that stops reading is disconnected.
         */
        get: operations["jobEvents"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/metrics": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Prometheus metrics (every user's counts)
         * @description For admins, tokens that hold JupyterHub's ``read:metrics`` scope (a Prometheus server's) and callers named in ``metrics_users`` of the service's authenticator; anyone else gets 403.
         */
        get: operations["metrics"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/openapi.json": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** This document */
        get: operations["openapi"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/healthz": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Liveness probe: the process serves requests
         * @description For the kubelet: no token needed, and the answer holds nothing but its status word.
         */
        get: operations["healthz"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/readyz": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Readiness probe: caches synced and the Kubernetes API server answering
         * @description For the kubelet: no token needed, and the answer holds nothing but its status word. Not ready while the service reads its jobs at start, and while the Kubernetes API server has not answered for ``JobsService.ready_grace`` seconds; the reason is in the service's log.
         */
        get: operations["readyz"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
}
export type webhooks = Record<string, never>;
export interface components {
    schemas: {
        Error: {
            /** @description what is wrong and how to fix it */
            error: string;
            status: number;
            /** @description the request field at fault */
            field?: string;
        };
        Probe: {
            /** @enum {string} */
            status: "ok" | "ready" | "not ready";
        };
        /** @enum {string} */
        State: "queued" | "admitted" | "running" | "falling_back" | "succeeded" | "failed" | "cancelled";
        /** @description Give exactly one of command or script. */
        JobRequest: {
            /** @description letters, digits, spaces, '.', '_' or '-' */
            name?: string;
            /** @description e.g. ["python", "train.py"] */
            command?: string[];
            /** @description a notebook, Python or shell script shipped with the job */
            script?: {
                /** @description path relative to your home, e.g. analysis/train.ipynb */
                path: string;
                /** @enum {string} */
                kind?: "notebook" | "python" | "shell";
                /** @description the file's text (at most 900 KiB) */
                content: string;
                args?: string[];
                /** @description notebook parameters: name -> value */
                parameters?: Record<string, unknown>;
            };
            /** @description container image; default: your own */
            image?: string | null;
            resources?: {
                /** @description e.g. 2, 0.5 or 500m */
                cpu?: string | number;
                /** @description e.g. 8Gi, 512Mi or bytes */
                memory?: string | number;
                gpus?: number;
                /** @description e.g. A100, T4 */
                gpu_model?: string | null;
            };
            /** @description e.g. 90s, 2h, 1h30m or HH:MM:SS */
            walltime?: (string | number) | null;
            /** @description array jobs: how many indexes (JOB_COMPLETION_INDEX) */
            completions?: number;
            /** @description array jobs: how many run at once */
            parallelism?: number;
            env?: {
                [key: string]: string;
            };
            /** @description "pvc" (your home volume), "pvc:<claim>" (a claim the admins share, JobsManager.shared_claims, at /mnt/pvc/<claim>), "configmap:<name>" and "secret:<name>" (a ConfigMap or Secret the admins share, JobsManager.shared_configmaps and shared_secrets; read-only at /mnt/configmap/<name> and /mnt/secret/<name>; any other is a 403), "emptydir" (empty scratch space at /scratch; "emptydir:<name>" at /scratch/<name>), or {type, name}. A PVC keeps the job on local sites; interLink sites mount ConfigMaps, Secrets and emptyDirs */
            volumes?: (string | {
                type: string;
                name?: string;
            })[];
            needs_inbound_network?: boolean;
            /** @description keep it on local resources */
            local_only?: boolean;
            /** @description the same id again returns the job it created (idempotent retries) */
            client_request_id?: string;
            /** @description run only at this site */
            site?: string | null;
        };
        RerunRequest: {
            /** @description run only at this site; default: the plan again */
            site?: string | null;
        };
        Plan: {
            requires_gpu: boolean;
            offloadable: boolean;
            /** @description why the job was taken to need a GPU, and to be offloadable or not */
            reasons?: {
                requires_gpu?: string;
                offloadable?: string;
            };
            sites: components["schemas"]["SiteReason"][];
            ruled_out: components["schemas"]["SiteReason"][];
        };
        SiteReason: {
            name: string;
            display_name?: string;
            reason: string;
            queue?: components["schemas"]["QueueEstimate"];
        };
        /** @description a job's place in a site's queue and when it would start there, e.g. '3rd in CINECA Leonardo's queue; expected to start in 10 to 25 min' */
        QueueEstimate: {
            /** @description 1 for the next job to start */
            position: number;
            /** @description jobs ahead of it in the queue */
            ahead: number;
            estimated_start: components["schemas"]["EstimatedStart"];
            /** @description one sentence saying how the estimate was computed */
            basis: string;
        };
        /** @description the start as a range of ISO 8601 times; null when it cannot be told */
        EstimatedStart: {
            earliest: string;
            latest: string;
        } | null;
        Attempt: {
            number: number;
            site: string;
            site_display?: string;
            /** @description the attempt's batch/v1 Job */
            job_name?: string | null;
            started?: string | null;
            ended?: string | null;
            /** @enum {string|null} */
            outcome: "succeeded" | "failed" | "fell_back" | "cancelled" | null;
            /** @description what happened there, in plain words */
            reason: string;
            /** @description the raw Kueue condition */
            kueue?: {
                condition?: string;
                status?: string;
                reason?: string;
                message?: string;
            };
            /** @description the Slurm or HTCondor job id */
            remote_job_id?: string | null;
            /** @description the pod the site failed, in its own words */
            pod?: {
                name?: string;
                reason?: string;
                message?: string;
                exitCode?: number | null;
            } | null;
            /**
             * @description whose doing the attempt's failure was: site (its infrastructure: the remote submission failed, the site lost the job or its connection; counted by the site's circuit breaker) or user (the job's own code); absent otherwise
             * @enum {string}
             */
            blame?: "site" | "user";
        };
        Progress: {
            completions: number;
            succeeded: number;
            failed: number;
            active: number;
        };
        Job: {
            id: string;
            name: string;
            owner: string;
            state: components["schemas"]["State"];
            site?: string | null;
            site_display?: string | null;
            reason: string;
            submitted?: string | null;
            started?: string | null;
            ended?: string | null;
            plan: components["schemas"]["Plan"];
            queue?: components["schemas"]["QueueEstimate"];
            attempts: components["schemas"]["Attempt"][];
            /** @description e.g. 'CINECA Leonardo: not admitted within 10m, now on Local resources' */
            fallback?: string;
            progress: components["schemas"]["Progress"];
            /** @description the request as submitted (without the staged file) */
            spec?: Record<string, unknown>;
            /** @description what admins did to this job: cancelled it, ran it again, or submitted it as a rerun */
            actions?: components["schemas"]["Action"][];
            explanation?: components["schemas"]["Explanation"];
        };
        /** @description Why the job waits, runs or failed, in one sentence from every layer that knows (Kueue, the remote site, the node's connection, the pod), with each layer's raw words */
        Explanation: {
            /** @description e.g. 'Admitted at CINECA Leonardo: the connection to the site is lost (Ping to InterLink API failed: status 503).' */
            sentence: string;
            layer: components["schemas"]["ExplanationLayer"];
            details: components["schemas"]["ExplanationDetail"][];
        };
        /**
         * @description who explains it: Kueue's queue, the remote site (interLink), the node and its connection, the pod (scheduler, kubelet, the user's code) or the jobs service's own decision
         * @enum {string}
         */
        ExplanationLayer: "kueue" | "site" | "node" | "pod" | "service";
        ExplanationDetail: {
            layer: components["schemas"]["ExplanationLayer"];
            /** @description the object and condition that said it, e.g. 'Workload condition QuotaReserved' */
            source: string;
            reason: string;
            message: string;
        };
        Action: {
            /** @enum {string} */
            action: "cancelled" | "rerun" | "submitted";
            /** @description the admin's name */
            by: string;
            time: string;
            /** @description the other job of a rerun: the new one (rerun) or the original (submitted) */
            job?: string;
            /** @description e.g. 'cancelled by admin ops' */
            words: string;
        };
        LogChunk: {
            data: string;
            next_offset: number;
            /** @description true once the job has ended and the whole log was read */
            eof: boolean;
            pod?: string | null;
            message?: string;
        };
        Site: {
            name: string;
            display_name: string;
            /** @enum {string} */
            kind: "local" | "offload";
            summary?: string;
            health: {
                usable: boolean;
                /** @description 'ok', or why the site is skipped */
                state: string;
            };
            capacity: {
                gpus: components["schemas"]["FreeTotal"];
                cpu: components["schemas"]["FreeTotal"];
                /** @description each GPU model of the site (gpus counts them all, MIG slices included) */
                models?: components["schemas"]["GpuModelCapacity"][];
                /** @description the most one job can get at this site */
                per_job?: {
                    /** @description CPUs */
                    cpu?: number;
                    /** @description bytes */
                    memory?: number;
                    /** @description seconds; null: no limit */
                    walltime?: number | null;
                };
            };
            queue: {
                /** @description Kueue workloads waiting for admission */
                pending: number;
                /** @description Kueue's words for why they wait */
                reasons: string[];
                /** @description where a job of default size would stand (1: next to start) */
                position?: number;
                /** @description jobs ahead of it */
                ahead?: number;
                estimated_start?: components["schemas"]["EstimatedStart"];
                /** @description one sentence saying how the estimate was computed */
                basis?: string;
            };
            gpu_models?: string[];
            breaker?: components["schemas"]["SiteBreaker"];
        };
        /** @description the site's circuit breaker: open while the site's own failures keep new jobs away from it, probing once its cool-down is over */
        SiteBreaker: {
            /** @enum {string} */
            state: "closed" | "open" | "probing";
            /** @description e.g. '3 of the last 3 submissions to CNAF Tier-1 failed: the remote submission failed: ...'; null while closed */
            reason: string | null;
            /** @description when the next submission may test the site (ISO time); null while closed */
            retry_at: string | null;
        };
        GpuModelCapacity: {
            /** @description the name jobs ask for (gpu_model), e.g. A100 */
            model: string;
            free: number;
            total: number;
            /** @description the most of them one job can get */
            per_job: number;
            /** @description MIG slices of a GPU, not whole GPUs */
            mig: boolean;
        };
        FreeTotal: {
            free: number;
            total: number;
        };
    };
    responses: {
        /** @description What is wrong and how to fix it */
        Error: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["Error"];
            };
        };
    };
    parameters: {
        /** @description the job's id, 10 hex digits */
        JobId: string;
    };
    requestBodies: never;
    headers: never;
    pathItems: never;
}
export type $defs = Record<string, never>;
export interface operations {
    listJobs: {
        parameters: {
            query?: {
                state?: components["schemas"]["State"];
                /** @description a site name, see GET /sites */
                site?: string;
                /** @description admins only: one user's jobs */
                user?: string;
                limit?: number;
                offset?: number;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A page of jobs */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        jobs: components["schemas"]["Job"][];
                        /** @description jobs that match the filters */
                        total: number;
                        /** @description offset of the next page; null: none */
                        next_offset: number | null;
                    };
                };
            };
            400: components["responses"]["Error"];
            401: components["responses"]["Error"];
            403: components["responses"]["Error"];
        };
    };
    submitJob: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["JobRequest"];
            };
        };
        responses: {
            /** @description An earlier submission with the same client_request_id */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Job"];
                };
            };
            /** @description Created */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Job"];
                };
            };
            400: components["responses"]["Error"];
            401: components["responses"]["Error"];
            403: components["responses"]["Error"];
            413: components["responses"]["Error"];
            422: components["responses"]["Error"];
            503: components["responses"]["Error"];
        };
    };
    getJob: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description the job's id, 10 hex digits */
                id: components["parameters"]["JobId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The job */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Job"];
                };
            };
            400: components["responses"]["Error"];
            401: components["responses"]["Error"];
            404: components["responses"]["Error"];
        };
    };
    cancelJob: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description the job's id, 10 hex digits */
                id: components["parameters"]["JobId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The cancelled job */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Job"];
                };
            };
            400: components["responses"]["Error"];
            401: components["responses"]["Error"];
            404: components["responses"]["Error"];
            409: components["responses"]["Error"];
            503: components["responses"]["Error"];
        };
    };
    jobLog: {
        parameters: {
            query?: {
                /** @description byte offset; pass the last answer's next_offset */
                offset?: number;
                /** @description array jobs: the index whose log to read */
                completion_index?: number;
            };
            header?: never;
            path: {
                /** @description the job's id, 10 hex digits */
                id: components["parameters"]["JobId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A slice of the log */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["LogChunk"];
                };
            };
            400: components["responses"]["Error"];
            401: components["responses"]["Error"];
            404: components["responses"]["Error"];
            503: components["responses"]["Error"];
        };
    };
    jobCollected: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description the job's id, 10 hex digits */
                id: components["parameters"]["JobId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The job */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Job"];
                };
            };
            400: components["responses"]["Error"];
            401: components["responses"]["Error"];
            404: components["responses"]["Error"];
            409: components["responses"]["Error"];
            503: components["responses"]["Error"];
        };
    };
    rerunJob: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description the job's id, 10 hex digits */
                id: components["parameters"]["JobId"];
            };
            cookie?: never;
        };
        requestBody?: {
            content: {
                "application/json": components["schemas"]["RerunRequest"];
            };
        };
        responses: {
            /** @description The new job */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Job"];
                };
            };
            400: components["responses"]["Error"];
            401: components["responses"]["Error"];
            403: components["responses"]["Error"];
            404: components["responses"]["Error"];
            422: components["responses"]["Error"];
            503: components["responses"]["Error"];
        };
    };
    planJob: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["JobRequest"];
            };
        };
        responses: {
            /** @description The plan */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Plan"];
                };
            };
            400: components["responses"]["Error"];
            401: components["responses"]["Error"];
            403: components["responses"]["Error"];
            413: components["responses"]["Error"];
            422: components["responses"]["Error"];
        };
    };
    listSites: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The sites */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        sites: components["schemas"]["Site"][];
                    };
                };
            };
            400: components["responses"]["Error"];
            401: components["responses"]["Error"];
        };
    };
    whoami: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The caller */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        name: string;
                        admin: boolean;
                        settings: {
                            /** @description The largest notebook or script shipped with a job, in bytes */
                            max_staged_bytes: number;
                            /** @description Where jobs see the user's home volume */
                            home_mount_path: string;
                        };
                    };
                };
            };
            400: components["responses"]["Error"];
            401: components["responses"]["Error"];
        };
    };
    jobEvents: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Server-sent events */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/event-stream": string;
                };
            };
            400: components["responses"]["Error"];
            401: components["responses"]["Error"];
        };
    };
    metrics: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Prometheus text format */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/plain": string;
                };
            };
            400: components["responses"]["Error"];
            401: components["responses"]["Error"];
            403: components["responses"]["Error"];
        };
    };
    openapi: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The OpenAPI document */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": Record<string, unknown>;
                };
            };
            400: components["responses"]["Error"];
            401: components["responses"]["Error"];
        };
    };
    healthz: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The service is alive */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Probe"];
                };
            };
            400: components["responses"]["Error"];
        };
    };
    readyz: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Ready */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Probe"];
                };
            };
            400: components["responses"]["Error"];
            /** @description Not ready */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Probe"];
                };
            };
        };
    };
}
